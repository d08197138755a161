"""The data rows of a recognised sheet made into contact drafts, with warnings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from robocall.contacts.models import Classification, Sex
from robocall.contacts.phones import PhoneCell, parse_phone_cell
from robocall.importers.layout import (
    Layout,
    column_letter,
    is_column_number_row,
    is_footer_row,
    is_footer_text,
)
from robocall.importers.messages import message
from robocall.importers.reading import Sheet
from robocall.importers.values import (
    ValueProblem,
    cell_text,
    parse_birth_year,
    parse_classification,
    parse_date,
    parse_sex,
)
from robocall.kit.text import name_key

TEXT_FIELDS = (
    "address_detail",
    "hamlet",
    "commune",
    "district",
    "source_case",
    "returned_from",
    "notes",
)
DATE_FIELDS = ("exposure_date", "return_date", "birth_date")
# Longest text kept in a column; the rest goes to extra so that nothing is cut off.
TEXT_LIMITS = {"name": 200, "address_detail": 300, "source_case": 300, "returned_from": 300}


@dataclass
class SheetRows:
    """What the rows of one sheet gave."""

    drafts: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    # (row, status, message) for rows that are not drafts: skipped rows, footers.
    outcomes: list[tuple[int, str, str]] = field(default_factory=list)
    rows: int = 0  # data rows read
    skipped: int = 0  # data rows not imported (no name)
    legacy_converted: int = 0


@dataclass
class RowContext:
    file_name: str
    default_classification: Classification
    progress: Callable[[int], None] | None = None
    # Repeated cells (classification, sex, dates, communes) are parsed once.
    cache: dict[tuple[str, Any], Any] = field(default_factory=dict)


def _cached(ctx: RowContext, kind: str, value: Any, parse: Callable[[Any], Any]) -> Any:
    key = (kind, value)
    try:
        hit = ctx.cache[key]
    except KeyError:
        try:
            hit = parse(value)
        except ValueProblem as exc:
            hit = exc
        except TypeError:  # unhashable never happens for cells; be safe with odd types
            hit = ValueProblem("unreadable")
        ctx.cache[key] = hit
    if isinstance(hit, ValueProblem):
        raise hit
    return hit


def _fill_vertical_merges(sheet: Sheet, data_start: int) -> None:
    """A commune merged down over its rows belongs to each of them; headings across are left."""
    for (top, left), (bottom, right) in sheet.merged:
        if top < data_start or bottom <= top or top >= len(sheet.rows):
            continue
        source = sheet.rows[top]
        for r in range(top + 1, min(bottom, len(sheet.rows) - 1) + 1):
            row = sheet.rows[r]
            for c in range(left, min(right, len(source) - 1) + 1):
                while len(row) <= c:
                    row.append(None)
                if row[c] is None or row[c] == "":
                    row[c] = source[c]


def _present(value: Any) -> bool:
    """Not an empty cell (None, or only white space)."""
    if value is None:
        return False
    if isinstance(value, str):
        if not value or value.isspace():
            return False
        return cell_text(value) is not None if "\u200b" in value or "\ufeff" in value else True
    return True


def _raw(value: Any) -> str:
    return cell_text(value) or ""


def read_sheet_rows(sheet: Sheet, layout: Layout, ctx: RowContext) -> SheetRows:
    """Drafts for every data row with a name; warnings for what could not be read."""
    out = SheetRows()
    fields = layout.fields
    labels = layout.labels
    name_col = fields["name"]
    phone_cols = ([fields["phone"]] if "phone" in fields else []) + layout.extra_phone_columns
    known = set(fields.values()) | set(layout.extra_phone_columns)
    extra_cols = dict(layout.extra)
    text_cols = [(f, fields[f]) for f in TEXT_FIELDS if f in fields]
    date_cols = [(f, fields[f]) for f in ("exposure_date", "return_date") if f in fields]
    sheet_name = sheet.name
    ended = False
    sheet_width = max((len(row) for row in sheet.rows), default=0)
    extra_plan = [
        (col, extra_cols.get(col) or f"Cột {column_letter(col)}")
        for col in range(sheet_width)
        if col not in known
    ]
    birth_plan = [(name, fields[name], sex) for name, sex in _BIRTH_FIELDS if name in fields]
    footer_text = message("footer")
    text_cache: dict[str, str | None] = {}
    # Lists pasted together repeat their header and column-number rows.
    name_header = labels.get(name_col, "").casefold()
    _fill_vertical_merges(sheet, layout.data_start)

    def warn(row_no: int, column: int, value: Any, text: str) -> None:
        label = labels.get(column) or f"Cột {column_letter(column)}"
        out.warnings.append(
            {
                "sheet": sheet_name,
                "row": row_no,
                "column": label,
                "value": _raw(value),
                "message": text,
            }
        )

    for index in range(layout.data_start, len(sheet.rows)):
        row = sheet.rows[index]
        row_no = index + 1
        if ctx.progress is not None and index % 2000 == 0:
            ctx.progress(index)
        width = len(row)
        name = cell_text(row[name_col]) if name_col < width else None
        if not name and not any(
            c is not None and not (isinstance(c, str) and not c.strip()) for c in row
        ):
            continue
        if ended or (is_footer_text(name) if name else is_footer_row(row, name_col)):
            ended = True
            out.outcomes.append((row_no, "skipped", footer_text))
            continue
        if name and name.casefold() == name_header:
            out.outcomes.append((row_no, "skipped", message("repeated_header")))
            continue
        if name and (name[0] == "(" or name.isdigit()) and is_column_number_row(row):
            out.outcomes.append((row_no, "skipped", message("column_numbers")))
            continue
        out.rows += 1
        if not name:
            warn(row_no, name_col, None, message("no_name"))
            out.outcomes.append((row_no, "skipped", message("no_name")))
            out.skipped += 1
            continue
        warned = False
        extra: dict[str, Any] = {}
        if len(name) > TEXT_LIMITS["name"]:
            extra[labels.get(name_col, "name")] = name
            name = name[: TEXT_LIMITS["name"]]
        draft: dict[str, Any] = {
            "name": name,
            "match_key": name_key(name)[:200],
            "phone": None,
            "alt_phones": [],
            "sms_capable": False,
            "classification": ctx.default_classification,
            "exposure_date": None,
            "birth_year": None,
            "birth_date": None,
            "sex": None,
            "source_case": None,
            "return_date": None,
            "returned_from": None,
            "notes": None,
            "address_detail": None,
            "hamlet": None,
            "commune": None,
            "district": None,
            "source_sheet": sheet_name,
            "source_row": row_no,
            "_commune_column": labels.get(fields.get("commune", -1), "commune"),
        }
        # Phones: the first valid number is the phone, every other one an alternative.
        cells: list[tuple[int, Any, PhoneCell]] = []
        for col in phone_cols:
            value = row[col] if col < width else None
            if value is not None and value != "":
                cells.append((col, value, parse_phone_cell(value)))
        numbers = []
        for col, value, parsed in cells:
            if parsed.phone is not None:
                numbers.append(parsed.phone)
                numbers.extend(parsed.alt_phones)
                for piece in parsed.invalid:
                    warn(row_no, col, piece, message("invalid_alt_phone"))
                    # The cell as written stays with the contact.
                    extra[labels.get(col, "phone")] = _raw(value)
                    warned = True
        if numbers:
            first = numbers[0]
            draft["phone"] = first.e164
            draft["sms_capable"] = first.sms_capable
            seen = {first.e164}
            for other in numbers[1:]:
                if other.e164 not in seen:
                    seen.add(other.e164)
                    draft["alt_phones"].append(other.e164)
            out.legacy_converted += sum(1 for n in numbers if n.legacy)
        else:
            if cells:
                for col, value, _parsed in cells:
                    warn(row_no, col, value, message("invalid_phone"))
                    extra[labels.get(col, "phone")] = _raw(value)
            else:
                warn(row_no, phone_cols[0] if phone_cols else name_col, None, message("no_phone"))
            warned = True
        for field_name, col in text_cols:
            if col < width:
                value = row[col]
                # Hamlets, communes and notes repeat down a list: clean each text once.
                text = text_cache.get(value) if isinstance(value, str) else None
                if text is None:
                    text = cell_text(value)
                    if isinstance(value, str) and len(text_cache) < 100_000:
                        text_cache[value] = text
                limit = TEXT_LIMITS.get(field_name)
                if text and limit and len(text) > limit:
                    extra[labels.get(col, field_name)] = text
                    text = text[:limit]
                draft[field_name] = text
        for field_name, col in date_cols:
            value = row[col] if col < width else None
            if value is None or value == "":
                continue
            try:
                draft[field_name] = _cached(ctx, "date", value, parse_date)
            except ValueProblem as exc:
                warn(row_no, col, value, message("bad_date", reason=exc))
                extra[labels.get(col, field_name)] = _raw(value)
                warned = True
        if birth_plan:
            warned |= _birth(row, row_no, birth_plan, labels, draft, extra, ctx, warn)
        opt = fields.get("classification")
        value = row[opt] if opt is not None and opt < width else None
        if opt is not None and _present(value):
            try:
                draft["classification"] = _cached(
                    ctx, "classification", value, parse_classification
                )
            except ValueProblem as exc:
                warn(row_no, opt, value, message("bad_classification", reason=exc))
                extra[labels.get(opt, "classification")] = _raw(value)
                warned = True
        opt = fields.get("sex")
        value = row[opt] if opt is not None and opt < width else None
        if opt is not None and _present(value):
            try:
                draft["sex"] = _cached(ctx, "sex", value, parse_sex)
            except ValueProblem as exc:
                warn(row_no, opt, value, message("bad_sex", reason=exc))
                extra[labels.get(opt, "sex")] = _raw(value)
                warned = True
        for col, label in extra_plan:
            if col >= width:
                break
            value = row[col]
            if value is None or value == "":
                continue
            text = cell_text(value)
            if text is None:
                continue
            extra[label] = value.isoformat() if isinstance(value, dt.date | dt.time) else text
        draft["extra"] = extra
        draft["_warned"] = warned
        out.drafts.append(draft)
    return out


_BIRTH_FIELDS = (
    ("birth_date", None),
    ("birth_year", None),
    ("birth_year_male", Sex.male),
    ("birth_year_female", Sex.female),
)


def _birth(
    row: list[Any],
    row_no: int,
    plan: list[tuple[str, int, Sex | None]],
    labels: dict[int, str],
    draft: dict[str, Any],
    extra: dict[str, Any],
    ctx: RowContext,
    warn: Callable[[int, int, Any, str], None],
) -> bool:
    """Birth year, date and sex from "Năm sinh", "Ngày sinh" or "Năm sinh: Nam | Nữ"."""
    warned = False
    width = len(row)
    for field_name, col, sex in plan:
        if col >= width:
            continue
        value = row[col]
        if not _present(value):
            continue
        if sex is not None and isinstance(value, str) and value.strip().lower() == "x":
            draft["sex"] = draft["sex"] or sex
            continue
        try:
            year, date = _cached(ctx, "birth", value, parse_birth_year)
        except ValueProblem as exc:
            warn(row_no, col, value, message("bad_birth_year", reason=exc))
            extra[labels.get(col, field_name)] = _raw(value)
            warned = True
            continue
        draft["birth_year"] = draft["birth_year"] or year
        if date is not None:
            draft["birth_date"] = draft["birth_date"] or date
        if sex is not None:
            draft["sex"] = draft["sex"] or sex
    return warned
