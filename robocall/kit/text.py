"""Vietnamese text helpers."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_SPACES = re.compile(r"\s+")
_SYLLABLE = re.compile(r"[^\W_]+", re.UNICODE)
_TONE_MARKS = {"\u0300": "1", "\u0301": "2", "\u0309": "3", "\u0303": "4", "\u0323": "5"}
_TONE_MARK = re.compile("[" + "".join(_TONE_MARKS) + "]")


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


@lru_cache(maxsize=65536)
def name_key(name: str) -> str:
    """A name for matching: case-folded, each syllable's tone mark moved to its end.

    "Hoà" and "Hòa", "Thuỷ" and "Thủy" differ only in where the tone mark sits.
    """
    folded = name.casefold()
    if folded.isascii():
        return " ".join(folded.split())
    words = []
    for word in unicodedata.normalize("NFD", folded).split():
        mark = _TONE_MARK.search(word)
        if mark is not None:
            word = _TONE_MARK.sub("", word) + _TONE_MARKS[mark.group()]
        words.append(word)
    return unicodedata.normalize("NFC", " ".join(words))


def syllables(text: str) -> list[str]:
    """The lower-case NFC syllables of a text, punctuation dropped."""
    return _SYLLABLE.findall(nfc(text).lower())
