"""SMS encoding and segment counting, as the networks count them.

GSM 03.38 7-bit: 160 characters in one message, 153 per part when split (the user data header
takes 7); characters of the extension table (e.g. `€ [ ] { }`) take two septets. Anything else
forces UCS-2: 70 code units in one message, 67 per part; a character outside the Basic
Multilingual Plane (emoji) takes two units. Vietnamese with diacritics is UCS-2.
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass

from robocall.kit.text import strip_diacritics

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "^{}\\[~]|€\f"
_BASIC = frozenset(GSM7_BASIC) - {"\x1b"}
_EXTENSION = frozenset(GSM7_EXTENSION)


class Encoding(enum.StrEnum):
    gsm7 = "gsm7"
    ucs2 = "ucs2"


SINGLE_LIMIT = {Encoding.gsm7: 160, Encoding.ucs2: 70}  # units in an unsplit message
PART_LIMIT = {Encoding.gsm7: 153, Encoding.ucs2: 67}  # units per part of a long message


@dataclass(frozen=True)
class SegmentInfo:
    encoding: Encoding
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    characters: int


def _gsm7_units(text: str) -> int | None:
    units = 0
    for ch in text:
        if ch in _BASIC:
            units += 1
        elif ch in _EXTENSION:
            units += 2
        else:
            return None
    return units


def _ucs2_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def segment_info(text: str) -> SegmentInfo:
    """How `text` will be sent: its encoding, its length in units, and how many parts."""
    gsm_units = _gsm7_units(text)
    if gsm_units is not None:
        encoding, units = Encoding.gsm7, gsm_units
    else:
        encoding, units = Encoding.ucs2, _ucs2_units(text)
    if units == 0:
        segments = 0
    elif units <= SINGLE_LIMIT[encoding]:
        segments = 1
    elif encoding is Encoding.gsm7:
        segments = _gsm7_parts(text)
    else:
        segments = _ucs2_parts(text)
    return SegmentInfo(encoding, units, segments, len(text))


def _gsm7_parts(text: str) -> int:
    # An escape pair (extension character) is never split across two parts.
    parts, used = 1, 0
    for ch in text:
        size = 2 if ch in _EXTENSION else 1
        if used + size > PART_LIMIT[Encoding.gsm7]:
            parts, used = parts + 1, 0
        used += size
    return parts


def _ucs2_parts(text: str) -> int:
    # A surrogate pair (emoji) is never split across two parts.
    parts, used = 1, 0
    for ch in text:
        size = 2 if ord(ch) > 0xFFFF else 1
        if used + size > PART_LIMIT[Encoding.ucs2]:
            parts, used = parts + 1, 0
        used += size
    return parts


# Punctuation that phones type but GSM-7 lacks, with its nearest GSM-7 form.
_GSM_SUBSTITUTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
        "\u00a0": " ",
        "\u00b0": "o",
    }
)


def to_gsm7(text: str) -> str:
    """Vietnamese without diacritics (đ → d), typographic punctuation made plain: GSM-7 text.

    Characters that still have no GSM-7 form are kept, so the message falls back to UCS-2 rather
    than losing them.
    """
    plain = strip_diacritics(unicodedata.normalize("NFC", text)).translate(_GSM_SUBSTITUTES)
    return plain


def estimate_cost(segments: int, price_per_segment: float) -> float:
    """Cost of sending `segments` parts at `price_per_segment` (in the configured currency)."""
    return round(segments * price_per_segment, 4)
