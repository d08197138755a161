"""The report workbook: the rows as received, with a status and a message for each."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import xlsxwriter

from robocall.config import get_settings
from robocall.importers.columns import cached_synonyms
from robocall.importers.layout import find_layout
from robocall.importers.reading import read_sheets

STATUS_TITLE = "Trạng thái / Status"
MESSAGE_TITLE = "Ghi chú nhập / Message"


def compact_outcomes(outcomes: list[list[Any]], sheets: list[str]) -> list[list[Any]]:
    """[sheet, row, status, message] rows as runs [sheet, first, last, status, message]."""
    order = {name: index for index, name in enumerate(sheets)}
    runs: list[list[Any]] = []
    for sheet, row, status, text in sorted(outcomes, key=lambda o: (order.get(o[0], 0), o[1])):
        last = runs[-1] if runs else None
        if last and (last[0], last[3], last[4]) == (sheet, status, text) and last[2] + 1 == row:
            last[2] = row
        else:
            runs.append([sheet, row, row, status, text])
    return runs


def expand_outcomes(runs: list[list[Any]]) -> list[list[Any]]:
    """The runs of `compact_outcomes` as [sheet, row, status, message] again."""
    return [
        [sheet, row, status, text]
        for sheet, first, last, status, text in runs
        for row in range(first, last + 1)
    ]


def build_report(*, content: bytes, file_name: str, row_outcomes: list[list[Any]]) -> bytes:
    """An .xlsx of every sheet of the file, two columns added: status and message."""
    sheets = read_sheets(content, file_name)
    synonyms = cached_synonyms(get_settings().content_dir / "importers")
    outcomes: dict[tuple[str, int], tuple[str, str]] = {
        (sheet, row): (status, text) for sheet, row, status, text in row_outcomes
    }
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"constant_memory": True, "in_memory": True})
    date_format = workbook.add_format({"num_format": "dd/mm/yyyy"})
    time_format = workbook.add_format({"num_format": "dd/mm/yyyy hh:mm"})
    title_format = workbook.add_format({"bold": True, "bg_color": "#FFF2CC", "border": 1})
    colours = {
        "created": workbook.add_format({"bg_color": "#E2EFDA"}),
        "updated": workbook.add_format({"bg_color": "#DDEBF7"}),
        "duplicate": workbook.add_format({"bg_color": "#EDEDED"}),
        "warning": workbook.add_format({"bg_color": "#FCE4D6"}),
        "skipped": workbook.add_format({"bg_color": "#F8CBAD"}),
    }
    used_names: set[str] = set()
    for sheet in sheets:
        layout = find_layout(sheet, synonyms)
        width = max((len(row) for row in sheet.rows), default=0)
        # Excel sheet names: at most 31 characters, unique.
        name = (sheet.name or "Sheet")[:31]
        for char in "[]:*?/\\":
            name = name.replace(char, "_")
        while name in used_names:
            name = name[:28] + f"_{len(used_names)}"
        used_names.add(name)
        worksheet = workbook.add_worksheet(name)
        header_row = layout.header_rows[0] if layout else None
        for r, row in enumerate(sheet.rows):
            for c, value in enumerate(row):
                if value is None or value == "":
                    continue
                if isinstance(value, dt.datetime):
                    worksheet.write_datetime(r, c, value, time_format)
                elif isinstance(value, dt.date):
                    worksheet.write_datetime(
                        r, c, dt.datetime.combine(value, dt.time()), date_format
                    )
                elif isinstance(value, dt.time | dt.timedelta):
                    worksheet.write_string(r, c, str(value))
                elif isinstance(value, bool | int | float):
                    worksheet.write_number(r, c, float(value))
                else:
                    worksheet.write_string(r, c, str(value))
            if r == header_row:
                worksheet.write_string(r, width, STATUS_TITLE, title_format)
                worksheet.write_string(r, width + 1, MESSAGE_TITLE, title_format)
            outcome = outcomes.get((sheet.name, r + 1))
            if outcome is not None:
                status, text = outcome
                worksheet.write_string(r, width, status, colours.get(status))
                worksheet.write_string(r, width + 1, text)
        if layout is None:
            worksheet.write_string(
                0, width, "Bỏ qua: không nhận ra cột họ tên / sheet skipped: no name column"
            )
        worksheet.set_column(width, width, 12)
        worksheet.set_column(width + 1, width + 1, 60)
    workbook.close()
    return buffer.getvalue()
