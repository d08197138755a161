"""Cell values of a commune list made into field values: text, names, dates, years, words."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from robocall.contacts.models import Classification, Sex
from robocall.importers.columns import header_key
from robocall.kit.text import clean_text

# Excel counts days from 1899-12-30 (its 1900 leap-year bug included).
_EXCEL_EPOCH = dt.date(1899, 12, 30)
# Serial numbers of 1920-01-01 … 2099-12-31: anything else in a date column is not a date.
_SERIAL_RANGE = (7306, 73415)
_DAY_FIRST = re.compile(r"(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{2}|\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_TIME_TAIL = re.compile(r"[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?$")
_VIETNAMESE_DATE = re.compile(
    r"ngày\s*(\d{1,2})\s*tháng\s*(\d{1,2})\s*năm\s*(\d{4})", re.IGNORECASE
)
_CLASSIFICATION = re.compile(r"F\s*[-_.]?\s*([0-3])", re.IGNORECASE)
_SEX_WORDS = {
    "nam": Sex.male,
    "trai": Sex.male,
    "m": Sex.male,
    "male": Sex.male,
    "nu": Sex.female,
    "gai": Sex.female,
    "f": Sex.female,
    "female": Sex.female,
}


class ValueProblem(ValueError):
    """A cell that cannot be read as its field; the message says why, in the user's terms."""


def cell_text(value: Any) -> str | None:
    """A cell as clean NFC text, None when empty (numbers without a spurious `.0`)."""
    if value is None:
        return None
    if isinstance(value, str):
        # clean_text, without its regular expression for the usual short cell.
        if not value.isascii():
            if "\u200b" in value or "\ufeff" in value:
                return clean_text(value) or None
            value = unicodedata.normalize("NFC", value)
        return " ".join(value.split()) or None
    if isinstance(value, bool):
        return "x" if value else None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _this_year() -> int:
    return dt.datetime.now(dt.UTC).year


def _two_digit_year(year: int) -> int:
    this_year = _this_year() % 100
    return 2000 + year if year <= this_year + 1 else 1900 + year


def parse_date(value: Any) -> dt.date:
    """A day-first date from a date cell, an Excel serial number or text; else ValueProblem."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if _SERIAL_RANGE[0] <= value <= _SERIAL_RANGE[1]:
            return _EXCEL_EPOCH + dt.timedelta(days=int(value))
        raise ValueProblem("not a date")
    text = cell_text(value)
    if text is None:
        raise ValueProblem("empty")
    text = _TIME_TAIL.sub("", text).strip()
    match = _ISO.fullmatch(text)
    if match:
        year, month, day = (int(g) for g in match.groups())
    else:
        match = _DAY_FIRST.fullmatch(text) or _VIETNAMESE_DATE.search(text)
        if match is None:
            if _digits(text) and len(text) == 5:
                return parse_date(int(text))
            raise ValueProblem("not a date (expected day/month/year)")
        day, month, year = (int(g) for g in match.groups())
        if year < 100:
            year = _two_digit_year(year)
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise ValueProblem("no such day (expected day/month/year)") from None


def _digits(text: str) -> bool:
    """Only the digits 0–9 (str.isdigit also takes "²", which int() refuses)."""
    return text.isascii() and text.isdigit()


def parse_birth_year(value: Any) -> tuple[int, dt.date | None]:
    """A birth year (and the date when a full date was written); else ValueProblem."""
    this_year = _this_year()
    if isinstance(value, int | float) and not isinstance(value, bool):
        if float(value).is_integer() and 1900 <= value <= this_year:
            return int(value), None
        if float(value).is_integer() and 0 <= value < 100:
            return _two_digit_year(int(value)), None
    text = cell_text(value)
    if text is not None and _digits(text):
        number = int(text)
        if 1900 <= number <= this_year:
            return number, None
        if len(text) == 2:
            return _two_digit_year(number), None
    try:
        date = parse_date(value)
    except ValueProblem:
        raise ValueProblem(f"not a birth year between 1900 and {this_year}") from None
    if not 1900 <= date.year <= this_year:
        raise ValueProblem(f"not a birth year between 1900 and {this_year}")
    return date.year, date


def parse_classification(value: Any) -> Classification:
    """F0 … F3 as written ("F1", "f1", "F 1", "F-1"); else ValueProblem."""
    text = cell_text(value)
    if text is None:
        raise ValueProblem("empty")
    match = _CLASSIFICATION.fullmatch(text.strip())
    if match is None:
        raise ValueProblem("not a classification (F0, F1, F2 or F3)")
    return Classification(f"F{match.group(1)}")


def parse_sex(value: Any) -> Sex:
    """Nam / Nữ (or male / female, M / F); else ValueProblem."""
    text = cell_text(value)
    sex = _SEX_WORDS.get(header_key(text)) if text else None
    if sex is None:
        raise ValueProblem("not a sex (Nam or Nữ)")
    return sex
