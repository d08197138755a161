"""Workbooks and CSV files for officials: streamed, readable, and safe to open in Excel.

A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return would be run by Excel as
a formula (or shift into one); such text is always written as text: in xlsx as a string cell,
in CSV with a leading apostrophe, as OWASP advises. A phone in E.164 (+84912345678) is the
exception: only digits after the +, so there is no formula to run, and officials copy it as is.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")  # ASCII digits only: never a function or reference
DATE_FORMAT = "dd/mm/yyyy"
DATETIME_FORMAT = "dd/mm/yyyy hh:mm"
MAX_WIDTH = 60  # characters; longer text wraps rather than widening the column forever
Cell = str | int | float | bool | dt.date | dt.datetime | None


def csv_safe(value: str) -> str:
    """Text as a CSV cell Excel will show, never run."""
    if value.startswith(FORMULA_PREFIXES) and not _E164.fullmatch(value):
        return "'" + value
    return value


@dataclass(frozen=True)
class Column:
    title: str
    width: int | None = None  # characters; None: fitted to the content


class SheetWriter:
    """One worksheet written row by row (the workbook streams rows to disk)."""

    def __init__(
        self,
        book: Workbook,
        sheet: Worksheet,
        columns: Sequence[Column],
        zone: ZoneInfo | None = None,
    ) -> None:
        self.book = book
        self.zone = zone or book.zone  # times are shown in this zone
        self.sheet = sheet
        self.columns = columns
        self.row = 1
        self.widths = [max(len(c.title), 6) for c in columns]
        for index, column in enumerate(columns):
            sheet.write_string(0, index, column.title, book.header_format)
        sheet.freeze_panes(1, 0)

    def append(self, values: Sequence[Cell]) -> None:
        for index, value in enumerate(values):
            self._write(index, value)
        self.row += 1

    def _write(self, col: int, value: Cell) -> None:
        sheet, book = self.sheet, self.book
        if value is None or value == "":
            return
        if isinstance(value, bool):
            text = "Có" if value else "Không"
            sheet.write_string(self.row, col, text)
            self._fit(col, text)
        elif isinstance(value, dt.datetime):
            local = value.astimezone(self.zone).replace(tzinfo=None)
            sheet.write_datetime(self.row, col, local, book.datetime_format)
            self._fit(col, "00/00/0000 00:00")
        elif isinstance(value, dt.date):
            sheet.write_datetime(
                self.row, col, dt.datetime.combine(value, dt.time()), book.date_format
            )
            self._fit(col, "00/00/0000")
        elif isinstance(value, int | float):
            sheet.write_number(self.row, col, value)
            self._fit(col, str(value))
        else:
            # write_string, never write(): text that looks like a formula stays text.
            sheet.write_string(self.row, col, value)
            self._fit(col, value)

    def _fit(self, col: int, text: str) -> None:
        longest = max((len(line) for line in text.splitlines()), default=0)
        if longest > self.widths[col]:
            self.widths[col] = min(longest, MAX_WIDTH)

    def finish(self) -> None:
        last_row = max(self.row - 1, 0)
        self.sheet.autofilter(0, 0, last_row, len(self.columns) - 1)
        for index, column in enumerate(self.columns):
            self.sheet.set_column(index, index, (column.width or self.widths[index]) + 2)


class Workbook:
    """An xlsx workbook written with constant memory: rows go to disk as they are added."""

    def __init__(self, target: str | Path | IO[bytes], zone: ZoneInfo) -> None:
        self.zone = zone
        self.book = xlsxwriter.Workbook(
            target
            if isinstance(target, str)
            else str(target)
            if isinstance(target, Path)
            else target,
            {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False},
        )
        self.header_format = self.book.add_format(
            {"bold": True, "bg_color": "#DDEBF7", "border": 1}
        )
        self.date_format = self.book.add_format({"num_format": DATE_FORMAT})
        self.datetime_format = self.book.add_format({"num_format": DATETIME_FORMAT})
        self._open: list[SheetWriter] = []

    def sheet(
        self,
        name: str,
        columns: Sequence[Column | str],
        zone: ZoneInfo | None = None,
        printable: bool = False,
    ) -> SheetWriter:
        """A new sheet; its times are shown in `zone` (default: the workbook's). A printable
        sheet prints on A4 landscape, one page wide, with the header row on every page."""
        cols = [c if isinstance(c, Column) else Column(c) for c in columns]
        worksheet = self.book.add_worksheet(name)
        if printable:
            worksheet.set_paper(9)  # A4
            worksheet.set_landscape()
            worksheet.fit_to_pages(1, 0)  # one page wide, as many pages tall as needed
            worksheet.repeat_rows(0)
            worksheet.set_footer("&C&P / &N")  # page N of M
        writer = SheetWriter(self, worksheet, cols, zone)
        self._open.append(writer)
        return writer

    def close(self) -> None:
        for writer in self._open:
            writer.finish()
        self.book.close()

    def __enter__(self) -> Workbook:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _csv_cell(value: Cell, zone: ZoneInfo) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Có" if value else "Không"
    if isinstance(value, dt.datetime):
        return value.astimezone(zone).strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, int | float):
        return str(value)
    return csv_safe(value)


def write_csv(
    target: IO[str], header: Sequence[str], rows: Iterable[Sequence[Cell]], zone: ZoneInfo
) -> None:
    """CSV in UTF-8 with a BOM (so Excel reads Vietnamese), cells safe from formula injection.

    Open `target` with newline="" and encoding="utf-8".
    """
    target.write("\ufeff")
    writer = csv.writer(target)
    writer.writerow([csv_safe(h) for h in header])
    for row in rows:
        writer.writerow([_csv_cell(v, zone) for v in row])


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Cell]], zone: ZoneInfo) -> bytes:
    """The CSV of `write_csv` as bytes, for a download."""
    buffer = io.StringIO(newline="")
    write_csv(buffer, header, rows, zone)
    return buffer.getvalue().encode("utf-8")
