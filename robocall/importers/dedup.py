"""Communes to units, and one contact per person: within the file and against the unit."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from robocall.contacts.models import Classification, Contact
from robocall.importers.columns import header_key
from robocall.kit.text import nfc
from robocall.units.models import Unit, UnitLevel
from robocall.units.service import descendant_ids

# Fields a later row may fill or (with a later exposure date) replace.
MERGED_FIELDS = (
    "phone",
    "sms_capable",
    "classification",
    "exposure_date",
    "birth_year",
    "birth_date",
    "sex",
    "address_detail",
    "hamlet",
    "commune",
    "district",
    "source_case",
    "return_date",
    "returned_from",
    "notes",
)
_COMMUNE_PREFIX = re.compile(
    r"^\s*(?:xã|phường|thị trấn|xa|phuong|thi tran|x\.|p\.|tt\.?)\s*", re.IGNORECASE
)
_EARLIEST = dt.date.min


def commune_key(text: str) -> str:
    """A commune name without its "Xã"/"Phường"/"Thị trấn" prefix, for matching."""
    return header_key(_COMMUNE_PREFIX.sub("", nfc(text)))


class UnitResolver:
    """Commune text of a row → the unit, within the unit given (or among all communes)."""

    def __init__(self, db_session: Session, default_unit: Unit | None) -> None:
        self.default_id = default_unit.id if default_unit else None
        units = db_session.execute(select(Unit.id, Unit.name, Unit.level)).all()
        allowed = (
            descendant_ids(db_session=db_session, unit_id=default_unit.id) if default_unit else None
        )
        self.by_key: dict[str, list[int]] = {}
        for unit_id, name, level in units:
            if level != UnitLevel.commune or (allowed is not None and unit_id not in allowed):
                continue
            self.by_key.setdefault(commune_key(name), []).append(unit_id)
        self._cache: dict[str, tuple[int | None, str | None]] = {}

    def resolve(self, commune: str | None) -> tuple[int | None, str | None]:
        """(unit id, None) or (fallback unit id, "unknown_commune"/"ambiguous_commune")."""
        if not commune:
            return self.default_id, (None if self.default_id else "no_unit")
        hit = self._cache.get(commune)
        if hit is None:
            ids = self.by_key.get(commune_key(commune), [])
            if len(ids) == 1:
                hit = (ids[0], None)
            elif ids:
                hit = (self.default_id, "ambiguous_commune")
            else:
                hit = (self.default_id, "unknown_commune")
            self._cache[commune] = hit
        return hit


def dedup_key(draft: dict[str, Any]) -> tuple[Any, ...]:
    """Same unit and matched name, and the same phone (without one: the same birth year)."""
    if draft["phone"]:
        return (draft["unit_id"], draft["match_key"], draft["phone"], None)
    return (draft["unit_id"], draft["match_key"], None, draft["birth_year"])


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == Classification.unknown


def merge(earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """One person from two records: the later exposure date wins, empty fields are filled."""
    first, second = earlier, later
    if (earlier.get("exposure_date") or _EARLIEST) > (later.get("exposure_date") or _EARLIEST):
        first, second = later, earlier  # `second` is the record that wins
    merged = dict(earlier)
    for name in MERGED_FIELDS:
        value = second.get(name)
        merged[name] = value if not _empty(value) else first.get(name)
    if merged["phone"] == first.get("phone") and merged["phone"] != second.get("phone"):
        merged["sms_capable"] = first.get("sms_capable", False)
    alts: list[str] = []
    for number in [
        *(earlier.get("alt_phones") or []),
        *(later.get("alt_phones") or []),
        earlier.get("phone"),
        later.get("phone"),
    ]:
        if number and number != merged["phone"] and number not in alts:
            alts.append(number)
    merged["alt_phones"] = alts
    merged["extra"] = {**(first.get("extra") or {}), **(second.get("extra") or {})}
    return merged


def dedup_in_file(drafts: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Any]]:
    """The distinct people, and for each merged row: (row draft, kept draft)."""
    kept: dict[tuple[Any, ...], dict[str, Any]] = {}
    merged_rows: list[Any] = []
    for draft in drafts:
        key = dedup_key(draft)
        first = kept.get(key)
        if first is None:
            kept[key] = draft
            continue
        combined = merge(first, draft)
        first.update(combined)
        merged_rows.append((draft, first))
    return list(kept.values()), merged_rows


_EXISTING_COLUMNS = ("id", "unit_id", "match_key", "phone", "birth_year")
_CHUNK = 500


def match_existing(
    *, db_session: Session, people: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], dict[str, Any]]]]:
    """Split into new people and (person, existing contact as a dict) pairs."""
    unit_ids = {p["unit_id"] for p in people}
    known: dict[tuple[Any, ...], int] = {}
    ids_with_units = [u for u in unit_ids if u is not None]
    queries = []
    for start in range(0, len(ids_with_units), _CHUNK):
        chunk = ids_with_units[start : start + _CHUNK]
        queries.append(Contact.unit_id.in_(chunk))
    if None in unit_ids:
        queries.append(Contact.unit_id.is_(None))
    columns = [getattr(Contact, c) for c in _EXISTING_COLUMNS]
    for condition in queries:
        for row in db_session.execute(select(*columns).where(condition)):
            record = dict(zip(_EXISTING_COLUMNS, row, strict=True))
            known.setdefault(dedup_key(record), record["id"])
    new: list[dict[str, Any]] = []
    matched: list[tuple[dict[str, Any], int]] = []
    for person in people:
        contact_id = known.get(dedup_key(person))
        if contact_id is None:
            new.append(person)
        else:
            matched.append((person, contact_id))
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    wanted = [*MERGED_FIELDS, "alt_phones", "extra", "id", "unit_id", "match_key", "name"]
    for start in range(0, len(matched), _CHUNK):
        chunk = matched[start : start + _CHUNK]
        rows = db_session.execute(
            select(*[getattr(Contact, c) for c in wanted]).where(
                Contact.id.in_([contact_id for _, contact_id in chunk])
            )
        )
        existing = {r.id: dict(r._mapping) for r in rows}
        pairs.extend((person, existing[contact_id]) for person, contact_id in chunk)
    return new, pairs


def updates_for(
    pairs: list[tuple[dict[str, Any], dict[str, Any]]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The updates to write, and the people that brought nothing new."""
    changes: list[dict[str, Any]] = []
    unchanged: list[dict[str, Any]] = []
    for person, existing in pairs:
        merged = merge(existing, person)
        changed = {
            name: merged[name]
            for name in (*MERGED_FIELDS, "alt_phones", "extra")
            if merged[name] != existing.get(name)
        }
        if changed:
            changes.append({"id": existing["id"], **changed})
            person["_status"] = "updated"
        else:
            unchanged.append(person)
            person["_status"] = "duplicate"
    return changes, unchanged


def write_updates(*, db_session: Session, changes: list[dict[str, Any]], now: dt.datetime) -> None:
    """Apply the updates, one statement per set of changed fields."""
    by_fields: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for change in changes:
        by_fields.setdefault(tuple(sorted(change)), []).append({**change, "updated_at": now})
    for rows in by_fields.values():
        db_session.execute(update(Contact), rows)
