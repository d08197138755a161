"""Reading a received file into sheets of cells: Excel/ODS with calamine, CSV/TXT by hand.

Every file is measured against ReadLimits before a reader allocates for it (see limits.py):
an .xlsx/.ods part by part as its zip streams (zip_parts), an .xls record by record
(xls_extent), a text file row by row. calamine's rows are then taken one at a time.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import python_calamine

from robocall.importers.limits import ROWS_AROUND_DATA, ImportRefused, ReadLimits
from robocall.importers.messages import refusal
from robocall.importers.xls_extent import check_xls
from robocall.importers.zip_parts import check_zip_workbook, open_zip
from robocall.kit.text import nfc

__all__ = ["ImportRefused", "ReadLimits", "Sheet", "decode_text", "read_sheets"]

# Characters one CSV row may span, quoted line breaks included: the csv module builds a
# whole row before it hands it over.
MAX_TEXT_ROW_CHARS = 1 << 20


@dataclass
class Sheet:
    """One sheet: rows of cell values (str, int, float, bool, date, datetime, time or None).

    `rows[0]` is the first row of the sheet (row 1 as the spreadsheet shows it).
    """

    name: str
    rows: list[list[Any]]
    merged: list[tuple[tuple[int, int], tuple[int, int]]]  # ((row, col), (row, col)), 0-based


SPREADSHEET_EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".ods")
TEXT_EXTENSIONS = (".csv", ".txt", ".tsv")
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# The stream an encrypted Office Open XML file carries inside its compound file.
_ENCRYPTION_INFO = "EncryptionInfo".encode("utf-16-le")
_MAGIC_NAMES = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"{\\rtf", "an RTF document"),
)


def _describe(content: bytes) -> str:
    for magic, name in _MAGIC_NAMES:
        if content.startswith(magic):
            return name
    return "not a spreadsheet file"


def _zip_kind(archive: zipfile.ZipFile | None) -> str | None:
    if archive is None:
        return None
    names = set(archive.namelist())
    if "xl/workbook.xml" in names or "xl/workbook.bin" in names:
        return "excel"
    if "content.xml" in names:
        return "ods"
    if "word/document.xml" in names:
        return "word"
    return None


def read_sheets(content: bytes, file_name: str, limits: ReadLimits | None = None) -> list[Sheet]:
    """Every sheet of the file; raise ImportRefused when it cannot be read as a list, or
    when reading it would cost more than `limits` allow (default: from the settings)."""
    limits = limits or ReadLimits.from_settings()
    lowered = file_name.lower()
    if not content.strip():
        raise ImportRefused(f"{file_name}: the file is empty")
    if content.startswith(_CFB_MAGIC):
        if _ENCRYPTION_INFO in content[:65536] or _ENCRYPTION_INFO in content:
            raise ImportRefused(
                f"{file_name}: the workbook is password-protected; save it without a password"
            )
        check_xls(content, file_name, limits)
        return _read_calamine(content, file_name, limits)
    if content.startswith(b"PK"):
        archive = open_zip(content, file_name)
        kind = _zip_kind(archive)
        if archive is not None and kind in ("excel", "ods"):
            check_zip_workbook(archive, file_name, limits)
            return _read_calamine(content, file_name, limits)
        if kind == "word":
            raise ImportRefused(f"{file_name}: this is a Word document, not a spreadsheet")
        raise ImportRefused(f"{file_name}: not a spreadsheet (a ZIP archive without a workbook)")
    if lowered.endswith(SPREADSHEET_EXTENSIONS):
        described = _describe(content)
        if described == "not a spreadsheet file" and lowered.endswith(".xls"):
            # Excel saves "Unicode text" or HTML under .xls too: read it as text if it is text.
            text = _decode_or_none(content)
            if text is not None and "<html" not in text[:2048].lower():
                return [_read_text(text, file_name, limits)]
        raise ImportRefused(f"{file_name}: not a spreadsheet ({described})")
    described = _describe(content)
    if described != "not a spreadsheet file":
        raise ImportRefused(f"{file_name}: not a spreadsheet ({described})")
    text = _decode_or_none(content)
    if text is None:
        raise ImportRefused(f"{file_name}: not a spreadsheet or text file")
    return [_read_text(text, file_name, limits)]


def _is_reader_failure(exc: BaseException) -> bool:
    """An error of calamine's about this file, a Rust panic included (pyo3 raises those as
    PanicException, a BaseException), not an interrupt of this process."""
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


def _read_calamine(content: bytes, file_name: str, limits: ReadLimits) -> list[Sheet]:
    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(content))
    except python_calamine.PasswordError:
        raise ImportRefused(
            f"{file_name}: the workbook is password-protected; save it without a password"
        ) from None
    except BaseException as exc:  # calamine raises several kinds for a damaged file
        if not _is_reader_failure(exc):
            raise
        raise ImportRefused(f"{file_name}: the workbook cannot be read ({exc})") from None
    sheets: list[Sheet] = []
    cells = 0
    try:
        for meta in workbook.sheets_metadata:
            if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
                continue
            label = repr(meta.name)
            try:
                sheet = workbook.get_sheet_by_name(meta.name)
                end = sheet.end
                rows, columns = (end[0] + 1, end[1] + 1) if end is not None else (0, 0)
                # Each sheet was measured before; several sheets may share one part, so the
                # sheets together are held to the limit as they are read.
                limits.check_sheet(file_name, label, rows, columns)
                cells += rows * columns
                limits.check_total(file_name, cells)
                merged = _merged_within(
                    sheet.merged_cell_ranges or [], rows, columns, file_name, label, limits
                )
                sheets.append(Sheet(meta.name, list(_sheet_rows(sheet)), merged))
            except python_calamine.PasswordError:
                raise ImportRefused(
                    f"{file_name}: the workbook is password-protected; save it without a password"
                ) from None
            except ImportRefused:
                raise
            except BaseException as exc:
                if not _is_reader_failure(exc):
                    raise
                raise ImportRefused(
                    f"{file_name}: sheet {meta.name!r} cannot be read ({exc})"
                ) from None
    finally:
        workbook.close()
    return sheets


def _sheet_rows(sheet: python_calamine.CalamineSheet) -> Iterator[list[Any]]:
    """The rows from row 1 and column A, one at a time (calamine's range starts at the first
    used cell; `to_python(skip_empty_area=False)` would copy the whole range to move it)."""
    start = sheet.start
    if start is None:
        return
    pad: list[Any] = [""] * start[1]
    for row in sheet.iter_rows():
        yield pad + row if pad else row


def _merged_within(
    ranges: list[tuple[tuple[int, int], tuple[int, int]]],
    rows: int,
    columns: int,
    file_name: str,
    label: str,
    limits: ReadLimits,
) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The merged ranges cut to the sheet's cells: the header and row fillers walk each one."""
    limits.check_merged(file_name, label, len(ranges))
    kept = []
    area = 0
    for (top, left), (bottom, right) in ranges:
        if top >= rows or left >= columns or bottom < top or right < left:
            continue
        bottom, right = min(bottom, rows - 1), min(right, columns - 1)
        area += (bottom - top + 1) * (right - left + 1)
        kept.append(((top, left), (bottom, right)))
    # Merged ranges never overlap in Excel, so together they cover at most the sheet.
    if area > max(rows * columns, 1):
        raise ImportRefused(f"{file_name}: {refusal('merged_overlap', sheet=label, cells=area)}")
    return kept


def _decode_or_none(content: bytes) -> str | None:
    try:
        return decode_text(content)
    except UnicodeDecodeError:
        return None


def decode_text(content: bytes) -> str:
    """Text of a CSV/TXT in NFC: UTF-8 (with or without BOM), UTF-16, else Windows-1258."""
    if content.startswith(codecs.BOM_UTF8):
        return nfc(content[3:].decode("utf-8"))
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return nfc(content.decode("utf-16"))
    head = content[:4096]
    # UTF-16 without a BOM: every other byte of ASCII text is a zero.
    if head.count(b"\x00") > len(head) // 4:
        zeros_even = head[0::2].count(b"\x00")
        zeros_odd = head[1::2].count(b"\x00")
        return nfc(content.decode("utf-16-be" if zeros_even > zeros_odd else "utf-16-le"))
    if b"\x00" in head:
        raise UnicodeDecodeError("binary", content, 0, 1, "binary content")
    try:
        return nfc(content.decode("utf-8"))
    except UnicodeDecodeError:
        # Old Vietnamese Windows PCs save "ANSI" as Windows-1258, whose tone marks are
        # separate combining characters: NFC puts them back on their letters.
        return nfc(content.decode("cp1258", errors="strict"))


def detect_delimiter(text: str) -> str:
    """`,` `;` or tab: the one that splits the first lines most consistently."""
    # The first lines only: a file of nothing but line breaks has millions of them.
    lines = [line for line in text[:65536].splitlines()[:50] if line.strip()]
    best, best_score = ",", -1.0
    for delimiter in (",", ";", "\t"):
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        if not counts or max(counts) <= 1:
            continue
        widest = max(counts)
        # Lines as wide as the widest one (the header and the data), weighted by that width.
        score = sum(1 for c in counts if c == widest) * widest + sum(c > 1 for c in counts)
        if score > best_score:
            best, best_score = delimiter, score
    return best


class _RowTooLong(Exception):
    pass


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def _lines(text: str, taken: list[int]) -> Iterator[str]:
    """The lines of the text, line breaks kept, for csv.reader; `taken[0]` counts the
    characters of the row being read (the reader resets it), refused past MAX_TEXT_ROW_CHARS.
    (Not io.StringIO: it keeps a copy of the text at four bytes a character.)"""
    for found in _LINE.finditer(text):
        line = found.group()
        taken[0] += len(line)
        if taken[0] > MAX_TEXT_ROW_CHARS:
            raise _RowTooLong
        yield line


def _read_text(text: str, file_name: str, limits: ReadLimits) -> Sheet:
    delimiter = detect_delimiter(text)
    rows: list[list[Any]] = []
    cells = 0
    taken = [0]
    reader = csv.reader(_lines(text, taken), delimiter=delimiter)
    try:
        for row in reader:
            taken[0] = 0
            if len(rows) >= limits.rows + ROWS_AROUND_DATA:
                reason = refusal("text_rows", limit=limits.rows)
                raise ImportRefused(f"{file_name}: {reason}")
            if len(row) > limits.columns:
                reason = refusal(
                    "text_columns", row=len(rows) + 1, columns=len(row), limit=limits.columns
                )
                raise ImportRefused(f"{file_name}: {reason}")
            cells += len(row)
            if cells > limits.cells:
                raise ImportRefused(f"{file_name}: {refusal('text_cells', limit=limits.cells)}")
            rows.append([cell if cell.strip() else None for cell in row])
    except _RowTooLong:
        reason = refusal("text_row", row=len(rows) + 1, limit=MAX_TEXT_ROW_CHARS)
        raise ImportRefused(f"{file_name}: {reason}") from None
    except csv.Error as exc:
        if "field limit" in str(exc):
            reason = refusal("text_cell", row=len(rows) + 1, limit=csv.field_size_limit())
        else:
            reason = refusal("text_damaged", row=len(rows) + 1, reason=exc)
        raise ImportRefused(f"{file_name}: {reason}") from None
    return Sheet(file_name.rsplit("/", 1)[-1], rows, [])
