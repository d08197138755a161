"""A preview of a received file for the upload page: the columns as read, the first rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from robocall.config import get_settings
from robocall.importers.columns import cached_synonyms
from robocall.importers.layout import column_letter, find_layout
from robocall.importers.reading import read_sheets

PREVIEW_ROWS = 10  # data rows shown per sheet


@dataclass
class SheetPreview:
    name: str
    # (column letter, header as written, field it is read as, or None when kept as extra)
    columns: list[tuple[str, str, str | None]] = field(default_factory=list)
    rows: list[tuple[int, list[str]]] = field(default_factory=list)  # (row as Excel shows, cells)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def preview_file(*, content: bytes, file_name: str, rows: int = PREVIEW_ROWS) -> list[SheetPreview]:
    """Each recognised sheet's columns (with the field each is read as) and first data rows."""
    synonyms = cached_synonyms(get_settings().content_dir / "importers")
    previews = []
    for sheet in read_sheets(content, file_name):
        layout = find_layout(sheet, synonyms)
        if layout is None:
            continue
        by_column = {column: name for name, column in layout.fields.items()}
        for column in layout.extra_phone_columns:
            by_column.setdefault(column, "phone")
        columns = sorted(layout.labels)
        preview = SheetPreview(
            name=sheet.name,
            columns=[(column_letter(c), layout.labels[c], by_column.get(c)) for c in columns],
        )
        for index in range(layout.data_start, min(len(sheet.rows), layout.data_start + rows)):
            row = sheet.rows[index]
            cells = [_cell_text(row[c]) if c < len(row) else "" for c in columns]
            if any(cells):
                preview.rows.append((index + 1, cells))
        previews.append(preview)
    return previews
