"""Reading a received file into sheets of cells: Excel/ODS with calamine, CSV/TXT by hand."""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from dataclasses import dataclass
from typing import Any

import python_calamine

from robocall.kit.text import nfc


class ImportRefused(ValueError):
    """A file that is not imported at all, with a one-line reason; nothing was written."""


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


def _zip_kind(content: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return None
    if "xl/workbook.xml" in names or "xl/workbook.bin" in names:
        return "excel"
    if "content.xml" in names:
        return "ods"
    if "word/document.xml" in names:
        return "word"
    return None


def read_sheets(content: bytes, file_name: str) -> list[Sheet]:
    """Every sheet of the file; raise ImportRefused when it cannot be read as a list."""
    lowered = file_name.lower()
    if not content.strip():
        raise ImportRefused(f"{file_name}: the file is empty")
    if content.startswith(_CFB_MAGIC):
        if _ENCRYPTION_INFO in content[:65536] or _ENCRYPTION_INFO in content:
            raise ImportRefused(
                f"{file_name}: the workbook is password-protected; save it without a password"
            )
        return _read_calamine(content, file_name)
    if content.startswith(b"PK"):
        kind = _zip_kind(content)
        if kind in ("excel", "ods"):
            return _read_calamine(content, file_name)
        if kind == "word":
            raise ImportRefused(f"{file_name}: this is a Word document, not a spreadsheet")
        raise ImportRefused(f"{file_name}: not a spreadsheet (a ZIP archive without a workbook)")
    if lowered.endswith(SPREADSHEET_EXTENSIONS):
        described = _describe(content)
        if described == "not a spreadsheet file" and lowered.endswith(".xls"):
            # Excel saves "Unicode text" or HTML under .xls too: read it as text if it is text.
            text = _decode_or_none(content)
            if text is not None and "<html" not in text[:2048].lower():
                return [_read_text(text, file_name)]
        raise ImportRefused(f"{file_name}: not a spreadsheet ({described})")
    described = _describe(content)
    if described != "not a spreadsheet file":
        raise ImportRefused(f"{file_name}: not a spreadsheet ({described})")
    text = _decode_or_none(content)
    if text is None:
        raise ImportRefused(f"{file_name}: not a spreadsheet or text file")
    return [_read_text(text, file_name)]


def _read_calamine(content: bytes, file_name: str) -> list[Sheet]:
    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(content))
    except python_calamine.PasswordError:
        raise ImportRefused(
            f"{file_name}: the workbook is password-protected; save it without a password"
        ) from None
    except Exception as exc:  # calamine raises several kinds for a damaged file
        raise ImportRefused(f"{file_name}: the workbook cannot be read ({exc})") from None
    sheets: list[Sheet] = []
    try:
        for meta in workbook.sheets_metadata:
            if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
                continue
            try:
                sheet = workbook.get_sheet_by_name(meta.name)
                rows = sheet.to_python(skip_empty_area=False)
                merged = sheet.merged_cell_ranges or []
            except python_calamine.PasswordError:
                raise ImportRefused(
                    f"{file_name}: the workbook is password-protected; save it without a password"
                ) from None
            except ImportRefused:
                raise
            except Exception as exc:
                raise ImportRefused(
                    f"{file_name}: sheet {meta.name!r} cannot be read ({exc})"
                ) from None
            sheets.append(Sheet(meta.name, rows, list(merged)))
    finally:
        workbook.close()
    return sheets


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
    lines = [line for line in text.splitlines()[:50] if line.strip()]
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


def _read_text(text: str, file_name: str) -> Sheet:
    delimiter = detect_delimiter(text)
    rows: list[list[Any]] = []
    for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
        rows.append([cell if cell.strip() else None for cell in row])
    return Sheet(file_name.rsplit("/", 1)[-1], rows, [])
