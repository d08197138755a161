"""Writing SMS to cost less: Vietnamese made GSM-7 where a template allows it, and the cost of
its segments. Segments are counted by `robocall.telephony.segments`, the one GSM-7 table."""

from __future__ import annotations

import unicodedata

from robocall.kit.text import strip_diacritics

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
