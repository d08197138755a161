"""What reading a received file may cost, checked before any reader allocates for it.

calamine builds a sheet as one rectangle of cells, from its first to its last used cell, at
32 bytes a cell, and it does so the moment a sheet is opened (an .xls: when the workbook is).
A 1.6 KB workbook whose only cells are A1 and XFD1048576 asks for 512 GiB. So the rectangle of
every sheet, the size of every part and the count of everything a reader keeps one object for
are measured from the file's own bytes, in bounded memory, and the file is refused over these
limits before calamine sees it.
"""

from __future__ import annotations

from dataclasses import dataclass

from robocall.config import get_settings
from robocall.importers.messages import refusal

MAX_COLUMNS = 16_384  # Excel's widest sheet: A … XFD
# Rows a sheet may hold beyond the data-row limit: letterhead, title, header, signatures.
ROWS_AROUND_DATA = 100
MAX_PARTS = 10_000  # parts of an .xlsx/.ods; Excel writes a few dozen
MAX_MERGED_RANGES = 100_000  # in one sheet: each is a Python object and a fill loop


class ImportRefused(ValueError):
    """A file that is not imported at all, with a one-line reason; nothing was written."""


def column_letters(index: int) -> str:
    """0 → A, 16383 → XFD."""
    letters = ""
    index += 1
    while index > 0:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def range_ref(rows: int, columns: int) -> str:
    """The reference of a rectangle from A1: (2000, 16384) → A1:XFD2000."""
    if rows <= 0 or columns <= 0:
        return "A1"
    if rows > 10**12 or columns > 10**9:
        return "A1:…"  # a made-up reference too long to print usefully
    return f"A1:{column_letters(columns - 1)}{rows}"


@dataclass(frozen=True)
class ReadLimits:
    """The limits one read of one file is held to."""

    rows: int  # data rows of the list (import_max_rows); a sheet may have a few more
    cells: int  # cells of every sheet's rectangle from A1 to its last used cell, all together
    unpacked_bytes: int  # uncompressed bytes of all the parts of an .xlsx/.ods together
    columns: int = MAX_COLUMNS

    @classmethod
    def from_settings(cls) -> ReadLimits:
        settings = get_settings()
        return cls(
            rows=settings.import_max_rows,
            cells=settings.import_max_cells,
            unpacked_bytes=settings.import_max_uncompressed_bytes,
        )

    def check_sheet(
        self, file_name: str, sheet: str, rows: int, columns: int, *, declared: bool = False
    ) -> None:
        """Refuse a sheet whose rectangle from A1 (`rows` × `columns`) is over a limit."""
        ref = range_ref(rows, columns)
        names = {
            "sheet": sheet,
            "ref": ref,
            "kind": "declared" if declared else "used",
            "kind_vi": "khai báo" if declared else "có dữ liệu",
        }
        if rows > self.rows + ROWS_AROUND_DATA:
            reason = refusal("sheet_rows", rows=rows, limit=self.rows, **names)
        elif columns > self.columns:
            reason = refusal("sheet_columns", columns=columns, limit=self.columns, **names)
        elif rows * columns > self.cells:
            reason = refusal("sheet_cells", cells=rows * columns, limit=self.cells, **names)
        else:
            return
        raise ImportRefused(f"{file_name}: {reason}")

    def check_total(self, file_name: str, cells: int) -> None:
        """Refuse sheets whose rectangles together are over the cell limit."""
        if cells > self.cells:
            reason = refusal("workbook_cells", cells=cells, limit=self.cells)
            raise ImportRefused(f"{file_name}: {reason}")

    def check_merged(self, file_name: str, sheet: str, count: int) -> None:
        if count > MAX_MERGED_RANGES:
            reason = refusal("merged_ranges", sheet=sheet, count=count, limit=MAX_MERGED_RANGES)
            raise ImportRefused(f"{file_name}: {reason}")
