"""How many SMS segments a text takes, and in which encoding (GSM 03.38 or UCS-2)."""

from __future__ import annotations

import math

# The GSM 03.38 default alphabet; the extension characters cost two septets each.
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")


def sms_encoding(body: str) -> str:
    """`gsm7` when every character is in the GSM alphabet, else `ucs2`."""
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENDED for ch in body):
        return "gsm7"
    return "ucs2"


def sms_segments(body: str) -> int:
    """The number of segments the network sends for `body` (at least 1)."""
    if sms_encoding(body) == "gsm7":
        septets = sum(2 if ch in _GSM_EXTENDED else 1 for ch in body)
        return 1 if septets <= 160 else math.ceil(septets / 153)
    # UTF-16 code units: characters outside the BMP take two.
    units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in body)
    return 1 if units <= 70 else math.ceil(units / 67)
