"""Where a list's header is, what each column holds, where its data and footer are."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from robocall.importers.columns import Synonyms, header_key
from robocall.importers.reading import Sheet
from robocall.importers.values import cell_text

# A header sits in the first rows, under letterhead and title lines.
HEADER_SEARCH_ROWS = 40
_COLUMN_NUMBER = re.compile(r"\(?\s*\d{1,2}\s*\)?|\(?[A-Z]\)?")
# Rows that close a list: place and date, signatures, totals.
_FOOTER_KEYS = (
    "nguoilapbieu",
    "nguoilap",
    "truongtram",
    "truongban",
    "truongkhoa",
    "truongthon",
    "giamdoc",
    "chutich",
    "xacnhan",
    "kytenghirohoten",
    "kyghirohoten",
    "kyten",
    "tongcong",
    "tongso",
)
# The start of a footer line (case-folded), with or without diacritics: a cheap first test.
_FOOTER_START = re.compile(
    r"\W*(?:ngư|nguoi|trưởng|truong|giám|giam|chủ|chu|xác|xac|ký|ky|tổng|tong)"
)
_PLACE_AND_DATE = re.compile(r"ngày\s*\S*\s*tháng\s*\S*\s*năm", re.IGNORECASE)


@dataclass
class Layout:
    """A recognised sheet: header rows, the column of each field, the other columns."""

    header_rows: tuple[int, ...]  # 0-based row indices
    data_start: int  # 0-based index of the first row that may hold data
    fields: dict[str, int]  # field → 0-based column
    extra_phone_columns: list[int] = field(default_factory=list)
    extra: dict[int, str] = field(default_factory=dict)  # column → header text as written
    labels: dict[int, str] = field(default_factory=dict)  # column → header text (all columns)


def column_letter(index: int) -> str:
    """0 → A, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _filled_header_rows(sheet: Sheet) -> list[list[str | None]]:
    """The first rows as text, merged ranges filled with their top-left value."""
    rows = [[cell_text(c) for c in row] for row in sheet.rows[: HEADER_SEARCH_ROWS + 1]]
    for (top, left), (bottom, right) in sheet.merged:
        if top >= len(rows) or left >= len(rows[top]):
            continue
        value = rows[top][left]
        for r in range(top, min(bottom, len(rows) - 1) + 1):
            for c in range(left, right + 1):
                while len(rows[r]) <= c:
                    rows[r].append(None)
                if rows[r][c] is None:
                    rows[r][c] = value
    return rows


def _group_titles(upper: list[str | None], lower: list[str | None]) -> list[str | None]:
    """Titles over sub-columns: an empty upper cell above a sub-column takes its left group."""
    width = max(len(upper), len(lower))
    groups: list[str | None] = []
    for c in range(width):
        top = upper[c] if c < len(upper) else None
        sub = lower[c] if c < len(lower) else None
        if top is None and sub is not None and c > 0 and groups[c - 1] is not None:
            prev_sub = lower[c - 1] if c - 1 < len(lower) else None
            top = groups[c - 1] if prev_sub is not None else None
        groups.append(top)
    return groups


def _match(
    labels: dict[int, list[str]], synonyms: Synonyms
) -> tuple[dict[str, int], list[int], dict[int, str]]:
    fields: dict[str, int] = {}
    extra_phones: list[int] = []
    unmatched: dict[int, str] = {}
    for column, candidates in sorted(labels.items()):
        found = None
        for text in candidates:
            found = synonyms.field_for(text)
            if found:
                break
        if found is None:
            unmatched[column] = candidates[0]
        elif found not in fields:
            fields[found] = column
        elif found == "phone":
            extra_phones.append(column)
        else:
            unmatched[column] = candidates[0]
    return fields, extra_phones, unmatched


def _single_labels(row: list[str | None]) -> dict[int, list[str]]:
    return {c: [text] for c, text in enumerate(row) if text}


def _double_labels(upper: list[str | None], lower: list[str | None]) -> dict[int, list[str]]:
    groups = _group_titles(upper, lower)
    labels: dict[int, list[str]] = {}
    for c, group in enumerate(groups):
        sub = lower[c] if c < len(lower) else None
        if group and sub and header_key(group) != header_key(sub):
            # The first is the text shown for the column: "Địa chỉ - Thôn".
            labels[c] = [f"{group} - {sub}", sub]
        elif group or sub:
            labels[c] = [str(group or sub)]
    return labels


def is_column_number_row(row: list[Any]) -> bool:
    texts = [cell_text(c) for c in row]
    present = [t for t in texts if t]
    return len(present) >= 3 and all(_COLUMN_NUMBER.fullmatch(t) for t in present)


def find_layout(sheet: Sheet, synonyms: Synonyms) -> Layout | None:
    """The sheet's header and columns, or None when no row names a name column."""
    rows = _filled_header_rows(sheet)
    best: tuple[int, int, Layout] | None = None  # (fields matched, -row, layout)
    for r in range(min(HEADER_SEARCH_ROWS, len(rows))):
        candidates: list[tuple[tuple[int, ...], dict[int, list[str]]]] = [
            ((r,), _single_labels(rows[r]))
        ]
        if r + 1 < len(rows) and any(rows[r + 1]):
            candidates.append(((r, r + 1), _double_labels(rows[r], rows[r + 1])))
        for header_rows, labels in candidates:
            if not labels:
                continue
            fields, extra_phones, unmatched = _match(labels, synonyms)
            if "name" not in fields:
                continue
            score = len(fields) + len(extra_phones)
            if best is not None and score <= best[0]:
                continue
            data_start = header_rows[-1] + 1
            if data_start < len(sheet.rows) and is_column_number_row(sheet.rows[data_start]):
                data_start += 1
            shown = {c: texts[0] for c, texts in labels.items()}
            unmatched.pop(fields.get("row_number", -1), None)
            layout = Layout(
                header_rows=header_rows,
                data_start=data_start,
                fields=fields,
                extra_phone_columns=extra_phones,
                extra=unmatched,
                labels=shown,
            )
            best = (score, -r, layout)
    return best[2] if best else None


def is_footer_text(text: str | None) -> bool:
    if not text:
        return False
    lowered = text.casefold()
    if "ngày" in lowered and _PLACE_AND_DATE.search(text):
        return True
    if not _FOOTER_START.match(lowered):
        return False
    key = header_key(text)
    return any(key.startswith(word) for word in _FOOTER_KEYS)


def is_footer_row(row: list[Any], name_column: int) -> bool:
    """Place and date, "Người lập biểu", "Trưởng trạm", totals: the list has ended.

    A row with a name is a footer only when the name cell itself is such a line.
    """
    name = cell_text(row[name_column]) if name_column < len(row) else None
    if name:
        return is_footer_text(name)
    return any(is_footer_text(cell_text(cell)) for cell in row)
