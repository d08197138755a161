"""SMS encoding and segment counting, as the networks count them.

GSM 03.38 7-bit: 160 characters in one message, 153 per part when split (the user data header
takes 7); characters of the extension table (e.g. `€ [ ] { }`) take two septets. Anything else
forces UCS-2: 70 code units in one message, 67 per part; a character outside the Basic
Multilingual Plane (emoji) takes two units. Vietnamese with diacritics is UCS-2.

Used by robocall to record and estimate what it sends, and by the simulator to count the
segments of what it receives, so both count alike.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

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


def sms_encoding(body: str) -> str:
    """`gsm7` when every character is in the GSM alphabet, else `ucs2`."""
    return segment_info(body).encoding.value


def sms_segments(body: str) -> int:
    """The number of segments the network sends for `body` (at least 1)."""
    return max(1, segment_info(body).segments)
