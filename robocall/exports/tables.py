"""Tabular exports: a header and rows, written as an xlsx sheet or a CSV file."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, cast
from zoneinfo import ZoneInfo

from robocall.kit.sheets import Cell, Column, Workbook, write_csv


class ExportError(ValueError):
    """An export that cannot be made as asked (format, unit, date); the message says why."""


class ExportNotFound(ExportError):
    """What the export is about (a unit, a campaign) does not exist or is outside the caller's
    units: answered as 404."""


class ExportUnitUnknown(ExportNotFound):
    """The unit asked for does not exist or is outside the caller's units."""


@dataclass(frozen=True)
class Table:
    """One sheet of an export: its Vietnamese name, column titles and rows (streamed)."""

    sheet: str
    columns: Sequence[Column | str]
    rows: Iterable[Sequence[Cell]]
    zone: ZoneInfo | None = None  # times shown in this zone (default: the configured one)
    printable: bool = False  # A4 landscape, one page wide, header repeated (a list to print)

    @property
    def header(self) -> list[str]:
        return [c.title if isinstance(c, Column) else c for c in self.columns]


PROGRESS_ROWS = 500


class _RowCounter:
    def __init__(self, progress: Callable[[int], None] | None) -> None:
        self.progress = progress
        self.rows = 0

    def count(self, rows: Iterable[Sequence[Cell]]) -> Iterator[Sequence[Cell]]:
        for row in rows:
            yield row
            self.rows += 1
            if self.progress is not None and self.rows % PROGRESS_ROWS == 0:
                self.progress(self.rows)


def export_format(file_name: str) -> str:
    """`xlsx` or `csv` from a file name; ExportError otherwise."""
    suffix = Path(file_name).suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise ExportError(f"{file_name}: the file name must end in .xlsx or .csv")
    return suffix[1:]


def write_tables(
    *,
    target: IO[bytes],
    fmt: str,
    tables: Callable[[], Iterable[Table]],
    zone: ZoneInfo,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Write every table as a sheet of one workbook, or (CSV) the first table only.

    `progress` is called with the number of rows written so far, every PROGRESS_ROWS rows.
    """
    counter = _RowCounter(progress)
    if fmt == "xlsx":
        with Workbook(target, zone) as book:
            for table in tables():
                sheet = book.sheet(table.sheet, table.columns, table.zone, table.printable)
                for row in counter.count(table.rows):
                    sheet.append(row)
        return
    if fmt == "csv":
        first = next(iter(tables()))
        text = io.TextIOWrapper(cast(BinaryIO, target), encoding="utf-8", newline="")
        write_csv(text, first.header, counter.count(first.rows), first.zone or zone)
        text.flush()
        text.detach()  # the caller owns `target` and closes it
        return
    raise ExportError(f"unknown format {fmt!r} (xlsx or csv)")
