"""Phone numbers as the commune lists write them, made E.164.

phonenumbers (region VN) decides what is valid. Around it: the pre-2018 11-digit mobiles, a
leading zero lost in a number cell, Excel floats, full-width digits, several numbers in one
cell. The common shape (a Vietnamese mobile or landline) takes a fast path built from
phonenumbers' own metadata, so it gives the same answers at a fraction of the cost
(`parse_national_slow` is the reference the tests compare it with).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType
from phonenumbers.phonemetadata import PhoneMetadata

# Pre-2018 11-digit mobile prefixes and what they became; the last 7 digits stay.
LEGACY_PREFIXES: dict[str, str] = {
    "0120": "070",
    "0121": "079",
    "0122": "077",
    "0126": "076",
    "0128": "078",
    "0123": "083",
    "0124": "084",
    "0125": "085",
    "0127": "081",
    "0129": "082",
    "0162": "032",
    "0163": "033",
    "0164": "034",
    "0165": "035",
    "0166": "036",
    "0167": "037",
    "0168": "038",
    "0169": "039",
    "0186": "056",
    "0188": "058",
    "0199": "059",
}

_SMS_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}

# Several numbers in one cell: "0912345678 / 0987654321", "... và ...".
_STRONG_SEPARATORS = re.compile(r"[/;,|\n\\]|\bvà\b|\bva\b|\bhoặc\b|\bhoac\b|\bor\b|\band\b", re.I)
# A note without digits in brackets: "(chồng)", "[con]".
_NOTE = re.compile(r"[(\[][^)\]\d]*[)\]]")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_EXCEL_FLOAT = re.compile(r"(\d+)\.0+")
_EXCEL_SCIENTIFIC = re.compile(r"\d(?:\.\d+)?[eE]\+?\d{1,2}")
_NON_DIGIT = re.compile(r"\D")
_ASCII_PHONE = re.compile(r"[0-9 .()\-]+")


@dataclass(frozen=True, slots=True)
class Phone:
    """One valid number."""

    e164: str
    sms_capable: bool
    legacy: bool  # converted from a pre-2018 11-digit mobile


@dataclass(frozen=True, slots=True)
class PhoneCell:
    """What one cell of a phone column held."""

    phone: Phone | None  # the first valid number
    alt_phones: tuple[Phone, ...]  # the others, in the order written
    invalid: tuple[str, ...]  # the parts that are not a valid number, as written


class _VietnamPatterns:
    """phonenumbers' VN metadata, compiled once, applied in phonenumbers' own order."""

    def __init__(self) -> None:
        meta = PhoneMetadata.metadata_for_region("VN")
        assert meta is not None

        def compiled(desc: object) -> re.Pattern[str] | None:
            pattern = getattr(desc, "national_number_pattern", None)
            return re.compile(pattern) if pattern else None

        self.general = compiled(meta.general_desc)
        self.mobile = compiled(meta.mobile)
        self.fixed = compiled(meta.fixed_line)
        assert meta.mobile and meta.fixed_line and meta.general_desc
        self.mobile_lengths = set(meta.mobile.possible_length or ())
        self.fixed_lengths = set(meta.fixed_line.possible_length or ())
        self.general_lengths = set(meta.general_desc.possible_length or ())
        patterns = [
            getattr(getattr(meta, name, None), "national_number_pattern", None)
            for name in (
                "premium_rate",
                "toll_free",
                "shared_cost",
                "voip",
                "personal_number",
                "pager",
                "uan",
                "voicemail",
            )
        ]
        # phonenumbers tries these types before fixed line and mobile: one test for all.
        self.special = re.compile("|".join(f"(?:{p})" for p in patterns if p))

    def classify(self, nsn: str) -> Phone | None | bool:
        """The number for a national significant number; None: invalid; False: ask phonenumbers."""
        assert self.general is not None and self.mobile is not None and self.fixed is not None
        if len(nsn) not in self.general_lengths or not self.general.fullmatch(nsn):
            return None
        if self.special.fullmatch(nsn):
            return False
        is_fixed = len(nsn) in self.fixed_lengths and self.fixed.fullmatch(nsn) is not None
        is_mobile = len(nsn) in self.mobile_lengths and self.mobile.fullmatch(nsn) is not None
        if is_fixed:
            return Phone("+84" + nsn, sms_capable=is_mobile, legacy=False)
        if is_mobile:
            return Phone("+84" + nsn, sms_capable=True, legacy=False)
        return None


_VN = _VietnamPatterns()


def _from_phonenumbers(text: str, region: str | None) -> Phone | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Phone(e164, phonenumbers.number_type(number) in _SMS_TYPES, legacy=False)


def parse_national_slow(national: str) -> Phone | None:
    """The reference answer: phonenumbers on a national number (leading 0), region VN."""
    return _from_phonenumbers(national, "VN")


def parse_national(national: str) -> Phone | None:
    """A Vietnamese national number (digits, leading 0), pre-2018 mobiles converted."""
    legacy = False
    if len(national) == 11 and national[:4] in LEGACY_PREFIXES:
        national = LEGACY_PREFIXES[national[:4]] + national[4:]
        legacy = True
    # "00…" is an international prefix to phonenumbers: leave it to phonenumbers.
    fast = _VN.classify(national[1:]) if national[:1] == "0" and national[1:2] != "0" else False
    if fast is None:
        return None
    phone = fast if isinstance(fast, Phone) else parse_national_slow(national)
    if phone is not None and legacy:
        return Phone(phone.e164, phone.sms_capable, legacy=True)
    return phone


def parse_digits(digits: str, *, international: bool) -> Phone | None:
    """One number as digits; `international` when it was written with a leading +."""
    if international or digits.startswith("00"):
        digits = digits[2:] if not international else digits
        if digits.startswith("84"):
            rest = digits[2:]
            # "+84 (0) 912 345 678": the national 0 written after the country code.
            if rest.startswith("0") and len(rest) >= 10:
                rest = rest[1:]
            return parse_national("0" + rest)
        return _from_phonenumbers("+" + digits, None)
    if digits.startswith("0"):
        return parse_national(digits)
    if digits.startswith("84") and len(digits) in (11, 12):
        return parse_national("0" + digits[2:])
    if len(digits) in (9, 10):
        # A number cell drops the leading zero: 912345678, or 1212345678 for a legacy mobile.
        return parse_national("0" + digits)
    return _from_phonenumbers(digits, "VN")


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).strip().lstrip("'‘’`").strip()
    if _EXCEL_FLOAT.fullmatch(text):
        return text.split(".", 1)[0]
    if _EXCEL_SCIENTIFIC.fullmatch(text):
        return str(int(float(text)))
    return text


def _parse_piece(piece: str) -> Phone | None:
    digits = _NON_DIGIT.sub("", piece)
    if not digits:
        return None
    return parse_digits(digits, international=piece.lstrip().startswith("+"))


def _split_dashes(piece: str) -> list[str] | None:
    """ "0912345678 - 0987654321": numbers joined by dashes, when dashes are not separators."""
    fragments = piece.split("-")
    numbers: list[str] = []
    buffer = ""
    for fragment in fragments:
        buffer = f"{buffer}-{fragment}" if buffer else fragment
        if len(_NON_DIGIT.sub("", buffer)) >= 9 and _parse_piece(buffer) is not None:
            numbers.append(buffer)
            buffer = ""
    if buffer.strip() or len(numbers) < 2:
        return None
    return numbers


def parse_phone_cell(value: object) -> PhoneCell:
    """Every number in a cell of a phone column: the first, the alternatives, what is invalid."""
    if value is None or value == "":
        return PhoneCell(None, (), ())
    if isinstance(value, bool):
        return PhoneCell(None, (), (str(value),))
    if isinstance(value, float) and value.is_integer() and value >= 0:
        value = int(value)
    if isinstance(value, int) and value >= 0 or isinstance(value, str) and value.isdecimal():
        # A number cell or plain digits: the most common cell of all.
        digits = str(value)
        if digits.isascii():
            phone = parse_digits(digits, international=False)
            if phone is not None:
                return PhoneCell(phone, (), ())
    text = repr(value) if isinstance(value, float) else str(value)
    text = _clean(text)
    if not text:
        return PhoneCell(None, (), ())
    # The usual cell: one plain number.
    if _ASCII_PHONE.fullmatch(text):
        phone = _parse_piece(text)
        if phone is not None:
            return PhoneCell(phone, (), ())
    text = _NOTE.sub(" ", text)
    found: list[Phone] = []
    invalid: list[str] = []
    for piece in _STRONG_SEPARATORS.split(text):
        if not piece.strip():
            continue
        phone = _parse_piece(piece)
        if phone is not None:
            found.append(phone)
            continue
        split = _split_dashes(piece) if "-" in piece else None
        if split:
            found.extend(p for p in map(_parse_piece, split) if p is not None)
        elif _NON_DIGIT.sub("", piece):
            invalid.append(piece.strip())
        # A piece without any digit is a note ("chồng", "không có"): nothing to keep.
    if not found:
        return PhoneCell(None, (), tuple(invalid) or (text,))
    unique: list[Phone] = []
    for phone in found:
        if all(phone.e164 != other.e164 for other in unique):
            unique.append(phone)
    return PhoneCell(unique[0], tuple(unique[1:]), tuple(invalid))


def normalize_phone(value: object) -> str | None:
    """The first valid number written in `value`, E.164, or None."""
    cell = parse_phone_cell(value)
    return cell.phone.e164 if cell.phone else None
