"""Jurisdictions: read, import from CSV, the bundled sample."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.kit.text import clean_text
from robocall.units.models import ALLOWED_PARENTS, Unit, UnitLevel

SAMPLE_UNITS = Path(__file__).with_name("sample_units.csv")
REQUIRED_COLUMNS = ("code", "name", "parent_code", "level")


class UnitImportError(ValueError):
    """A units file that cannot be imported; nothing was written."""


@dataclass(frozen=True)
class UnitRow:
    line: int
    code: str
    name: str
    parent_code: str | None
    level: UnitLevel


@dataclass(frozen=True)
class UnitImportResult:
    created: int
    updated: int
    unchanged: int


def get_by_code(*, db_session: Session, code: str) -> Unit | None:
    """Get a unit by its official code."""
    return db_session.scalar(select(Unit).where(Unit.code == code))


def list_units(*, db_session: Session) -> list[Unit]:
    """All units, ordered by code."""
    return list(db_session.scalars(select(Unit).order_by(Unit.code)))


def descendant_ids(*, db_session: Session, unit_id: int) -> set[int]:
    """The unit and every unit below it."""
    parent_of = dict(db_session.execute(select(Unit.id, Unit.parent_id)).all())
    found = {unit_id}
    changed = True
    while changed:
        changed = False
        for child, parent in parent_of.items():
            if parent in found and child not in found:
                found.add(child)
                changed = True
    return found


def ancestor_ids(*, db_session: Session, unit_id: int) -> set[int]:
    """The unit and every unit above it."""
    found: set[int] = set()
    current: int | None = unit_id
    while current is not None and current not in found:
        found.add(current)
        unit = db_session.get(Unit, current)
        current = unit.parent_id if unit is not None else None
    return found


def parse_units_csv(text: str, *, file_name: str) -> list[UnitRow]:
    """Read and check a units CSV (columns code, name, parent_code, level)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = [c.strip().lower() for c in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise UnitImportError(f"{file_name}:1: missing column(s) {', '.join(missing)}")
    rows: list[UnitRow] = []
    seen: dict[str, int] = {}
    for line, raw in enumerate(reader, start=2):
        record = {k.strip().lower(): (v or "") for k, v in raw.items() if k is not None}
        if not any(v.strip() for v in record.values()):
            continue
        code = record["code"].strip()
        name = clean_text(record["name"])
        level_text = record["level"].strip().lower()
        parent = record["parent_code"].strip() or None
        if not code:
            raise UnitImportError(f"{file_name}:{line}: column code is empty")
        if not name:
            raise UnitImportError(f"{file_name}:{line}: column name is empty")
        if level_text not in UnitLevel.__members__:
            raise UnitImportError(
                f"{file_name}:{line}: column level is {level_text!r}; "
                "expected province, district or commune"
            )
        if code in seen:
            raise UnitImportError(f"{file_name}:{line}: code {code} already on line {seen[code]}")
        seen[code] = line
        rows.append(UnitRow(line, code, name, parent, UnitLevel(level_text)))
    if not rows:
        raise UnitImportError(f"{file_name}: no units in the file")
    return rows


def import_units(*, db_session: Session, rows: list[UnitRow], file_name: str) -> UnitImportResult:
    """Create or update units; parents may come later in the file or exist already."""
    existing = {u.code: u for u in db_session.scalars(select(Unit))}
    levels = {code: unit.level for code, unit in existing.items()}
    levels.update({row.code: row.level for row in rows})
    for row in rows:
        if row.parent_code is None:
            if row.level is not UnitLevel.province:
                raise UnitImportError(
                    f"{file_name}:{row.line}: a {row.level.value} needs a parent_code"
                )
            continue
        parent_level = levels.get(row.parent_code)
        if parent_level is None:
            raise UnitImportError(
                f"{file_name}:{row.line}: parent_code {row.parent_code} is not a known unit"
            )
        if parent_level not in ALLOWED_PARENTS[row.level]:
            raise UnitImportError(
                f"{file_name}:{row.line}: a {row.level.value} cannot sit under a "
                f"{parent_level.value} ({row.parent_code})"
            )
    created = updated = unchanged = 0
    by_code = dict(existing)
    for row in rows:
        unit = by_code.get(row.code)
        if unit is None:
            unit = Unit(code=row.code, name=row.name, level=row.level)
            db_session.add(unit)
            by_code[row.code] = unit
            created += 1
        elif unit.name == row.name and unit.level == row.level:
            unchanged += 1
        else:
            unit.name, unit.level = row.name, row.level
            updated += 1
    db_session.flush()
    for row in rows:
        unit = by_code[row.code]
        parent_id = by_code[row.parent_code].id if row.parent_code else None
        if unit.parent_id != parent_id:
            unit.parent_id = parent_id
    db_session.flush()
    _check_no_cycles(db_session=db_session, file_name=file_name)
    return UnitImportResult(created=created, updated=updated, unchanged=unchanged)


def _check_no_cycles(*, db_session: Session, file_name: str) -> None:
    parent_of = dict(db_session.execute(select(Unit.code, Unit.parent_id)).all())
    code_of = dict(db_session.execute(select(Unit.id, Unit.code)).all())
    for start in parent_of:
        seen = {start}
        parent_id = parent_of[start]
        while parent_id is not None:
            code = code_of[parent_id]
            if code in seen:
                raise UnitImportError(f"{file_name}: unit {start} is its own ancestor")
            seen.add(code)
            parent_id = parent_of[code]


def import_units_file(*, db_session: Session, path: Path) -> UnitImportResult:
    """Import a units CSV file whole, or raise UnitImportError and write nothing."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnitImportError(f"{path.name}: not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise UnitImportError(f"{path}: {exc.strerror}") from exc
    rows = parse_units_csv(text, file_name=path.name)
    with db_session.begin_nested():
        return import_units(db_session=db_session, rows=rows, file_name=path.name)


def ensure_sample_units(*, db_session: Session) -> UnitImportResult:
    """Load the bundled sample district (used by the demo)."""
    return import_units_file(db_session=db_session, path=SAMPLE_UNITS)
