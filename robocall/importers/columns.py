"""Column names: the fields a list may hold and the synonyms in `importers/*.yaml`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from robocall.kit.text import nfc, strip_diacritics
from robocall.kit.yamlfile import LineDict, LineList, Problem, load

# The fields a contact list may have, in the health centre's words.
FIELDS = (
    "row_number",  # STT: the list's own numbering, not stored (the source row is)
    "name",
    "phone",
    "birth_year",
    "birth_date",
    "birth_year_male",  # "Năm sinh" split into "Nam" / "Nữ" sub-columns: sex and year at once
    "birth_year_female",
    "sex",
    "address_detail",
    "hamlet",
    "commune",
    "district",
    "classification",
    "exposure_date",
    "source_case",
    "return_date",
    "returned_from",
    "notes",
)

_BRACKETED = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_NOT_ALNUM = re.compile(r"[\W_]+")


class ColumnsError(ValueError):
    """The synonyms content is missing or invalid."""


def header_key(text: str) -> str:
    """A header reduced for matching: no case, diacritics, spacing or punctuation."""
    return _NOT_ALNUM.sub("", strip_diacritics(nfc(text)).casefold())


def header_keys(text: str) -> list[str]:
    """The keys to try for a header: as written, then without a note in brackets."""
    keys = [header_key(text)]
    without_note = header_key(_BRACKETED.sub(" ", text))
    if without_note and without_note != keys[0]:
        keys.append(without_note)
    return [k for k in keys if k]


@dataclass(frozen=True)
class Synonyms:
    """header key → field."""

    by_key: dict[str, str]

    def field_for(self, header: str) -> str | None:
        for key in header_keys(header):
            field = self.by_key.get(key)
            if field:
                return field
        return None


def check_columns_file(data: LineDict, name: str) -> list[Problem]:
    """Problems of one `importers/*.yaml` file (structure, unknown fields, clashes)."""
    problems: list[Problem] = []
    fields = data.get("fields")
    if not isinstance(fields, LineDict):
        return [Problem(name, data.line_of("fields"), "`fields:` must map field → list of names")]
    seen: dict[str, str] = {}
    for field, names in fields.items():
        line = fields.line_of(field)
        if field not in FIELDS:
            problems.append(
                Problem(name, line, f"unknown field {field!r} (known: {', '.join(FIELDS)})")
            )
            continue
        if not isinstance(names, LineList):
            problems.append(Problem(name, line, f"{field}: give a list of column names"))
            continue
        for item, item_line in zip(names, names.item_lines, strict=True):
            if not isinstance(item, str | int) or not header_key(str(item)):
                problems.append(Problem(name, item_line, f"{field}: {item!r} is not a column name"))
                continue
            key = header_key(str(item))
            if key in seen:
                problems.append(
                    Problem(name, item_line, f"{item!r} is already a name of {seen[key]!r}")
                )
                continue
            seen[key] = field
    for extra in set(data) - {"version", "fields"}:
        problems.append(Problem(name, data.line_of(extra), f"unknown key {extra!r}"))
    return problems


def load_synonyms(folder: Path) -> Synonyms:
    """Read every `*.yaml` in the importers content folder; raise on any problem."""
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    if not files:
        raise ColumnsError(f"no column names found: {folder} has no .yaml file")
    by_key: dict[str, str] = {}
    for path in files:
        data, problems = load(path, f"importers/{path.name}")
        if isinstance(data, LineDict):
            problems += check_columns_file(data, f"importers/{path.name}")
        elif not problems:
            problems.append(Problem(f"importers/{path.name}", 1, "the file must be a mapping"))
        if problems:
            raise ColumnsError("; ".join(map(str, problems)))
        for field, names in data["fields"].items():
            for item in names:
                key = header_key(str(item))
                if by_key.get(key, field) != field:
                    raise ColumnsError(
                        f"importers/{path.name}: {item!r} is already a name of {by_key[key]!r}"
                    )
                by_key[key] = field
    return Synonyms(by_key)


def cached_synonyms(folder: Path) -> Synonyms:
    """The synonyms of `folder`, read again only when one of its files changed."""
    signature = tuple(
        (path.name, path.stat().st_mtime_ns, path.stat().st_size)
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    )
    return _synonyms_for(folder, signature)


@lru_cache(maxsize=8)
def _synonyms_for(folder: Path, signature: tuple[tuple[str, int, int], ...]) -> Synonyms:
    return load_synonyms(folder)
