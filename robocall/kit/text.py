"""Vietnamese text helpers."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def nfc(text: str) -> str:
    """The text in Unicode NFC, as robocall stores Vietnamese."""
    return unicodedata.normalize("NFC", text)


def clean_text(text: str) -> str:
    """NFC, trimmed, inner white space collapsed to one space."""
    return _SPACES.sub(" ", nfc(text).replace("\u200b", "").replace("\ufeff", "")).strip()


def strip_diacritics(text: str) -> str:
    """Vietnamese without tone marks or diacritics ("Đống Đa" → "Dong Da")."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
