"""Contacts: list and look up, numbers that opted out."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Exists, exists, func, select
from sqlalchemy.orm import Session

from robocall.contacts.models import Classification, Contact, OptOut
from robocall.importers.values import name_key
from robocall.kit.text import nfc
from robocall.units.models import Unit
from robocall.units.service import descendant_ids, get_by_code


class ContactQueryError(ValueError):
    """A filter that names something unknown (a unit code, a classification)."""


@dataclass(frozen=True)
class ContactPage:
    contacts: list[dict[str, Any]]
    total: int


def contact_json(contact: Contact, unit_codes: dict[int, str]) -> dict[str, Any]:
    """A contact as the CLI and API show it."""
    return {
        "id": contact.id,
        "name": contact.name,
        "phone": contact.phone,
        "alt_phones": list(contact.alt_phones or []),
        "sms_capable": contact.sms_capable,
        "classification": contact.classification.value,
        "exposure_date": contact.exposure_date.isoformat() if contact.exposure_date else None,
        "birth_year": contact.birth_year,
        "birth_date": contact.birth_date.isoformat() if contact.birth_date else None,
        "sex": contact.sex.value if contact.sex else None,
        "address": {
            "detail": contact.address_detail,
            "hamlet": contact.hamlet,
            "commune": contact.commune,
            "district": contact.district,
        },
        "unit": unit_codes.get(contact.unit_id) if contact.unit_id else None,
        "source_case": contact.source_case,
        "return_date": contact.return_date.isoformat() if contact.return_date else None,
        "returned_from": contact.returned_from,
        "notes": contact.notes,
        "source": {
            "file": contact.source_file,
            "sheet": contact.source_sheet,
            "row": contact.source_row,
        },
        "import_batch_id": contact.import_batch_id,
        "extra": dict(contact.extra or {}),
    }


def parse_classification_filter(value: str | None) -> Classification | None:
    """`F1`, `f1`, `unknown` … as a filter; None for no filter."""
    if value is None or not value.strip():
        return None
    text = value.strip().replace(" ", "").replace("-", "")
    for member in Classification:
        if member.value.lower() == text.lower():
            return member
    raise ContactQueryError(f"unknown classification {value!r} (F0, F1, F2, F3 or unknown)")


def list_contacts(
    *,
    db_session: Session,
    unit_code: str | None = None,
    classification: str | None = None,
    offset: int = 0,
    limit: int | None = None,
    within_units: Collection[int] | None = None,
    search: str | None = None,
) -> ContactPage:
    """Contacts of a unit (and the units below it), of one classification, by id.

    `within_units` limits the result to the units a user may see (None: every unit); a unit
    code outside them is unknown. `search` matches part of a name or of a phone number.
    """
    query = select(Contact)
    if within_units is not None:
        query = query.where(Contact.unit_id.in_(sorted(within_units)))
    if unit_code:
        unit = get_by_code(db_session=db_session, code=unit_code)
        if unit is None or (within_units is not None and unit.id not in within_units):
            raise ContactQueryError(f"unknown unit {unit_code!r}")
        query = query.where(
            Contact.unit_id.in_(descendant_ids(db_session=db_session, unit_id=unit.id))
        )
    wanted = parse_classification_filter(classification)
    if wanted is not None:
        query = query.where(Contact.classification == wanted)
    if search and search.strip():
        query = query.where(_search_condition(search))
    total = db_session.scalar(select(func.count()).select_from(query.subquery())) or 0
    query = query.order_by(Contact.id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    contacts = list(db_session.scalars(query))
    codes = {unit_id: code for unit_id, code in db_session.execute(select(Unit.id, Unit.code))}
    return ContactPage([contact_json(c, codes) for c in contacts], total)


def _search_condition(text: str) -> ColumnElement[bool]:
    """Part of a phone number (digits, as written locally or with +84), else part of a name."""
    cleaned = text.strip()
    digits = re.sub(r"\D", "", cleaned)
    if len(digits) >= 3 and not re.search(r"[^\d\s+().-]", cleaned):
        if digits.startswith("84") and len(digits) > 9:
            digits = digits[2:]
        return Contact.phone.contains(digits.lstrip("0"), autoescape=True)
    return Contact.match_key.contains(name_key(nfc(cleaned)), autoescape=True)


def get_contact(
    *, db_session: Session, contact_id: int, within_units: Collection[int] | None = None
) -> Contact | None:
    """A contact by id, or None when there is none the caller may see."""
    contact = db_session.get(Contact, contact_id)
    if contact is None:
        return None
    if within_units is not None and contact.unit_id not in within_units:
        return None
    return contact


def opted_out(phone: Any) -> Exists:
    """SQL: whether `phone` (a value or a column) asked not to be called or messaged."""
    return exists().where(OptOut.phone == phone)


def is_opted_out(*, db_session: Session, phone: str) -> bool:
    """Whether this E.164 number asked not to be called or messaged."""
    return bool(db_session.scalar(select(opted_out(phone))))


def add_opt_out(*, db_session: Session, phone: str, reason: str = "") -> OptOut:
    """Record that this E.164 number must not be called or messaged (idempotent)."""
    existing = db_session.scalar(select(OptOut).where(OptOut.phone == phone))
    if existing is not None:
        return existing
    opt_out = OptOut(phone=phone, reason=reason)
    db_session.add(opt_out)
    db_session.flush()
    return opt_out


def remove_opt_out(*, db_session: Session, phone: str) -> bool:
    """Let this number be called and messaged again; False when it had not opted out."""
    existing = db_session.scalar(select(OptOut).where(OptOut.phone == phone))
    if existing is None:
        return False
    db_session.delete(existing)
    db_session.flush()
    return True


def list_opt_outs(
    *, db_session: Session, within_units: Collection[int] | None = None
) -> list[OptOut]:
    """Numbers that opted out, newest first (with `within_units`: of contacts in those units)."""
    query = select(OptOut).order_by(OptOut.created_at.desc(), OptOut.id.desc())
    if within_units is not None:
        phones = select(Contact.phone).where(Contact.unit_id.in_(sorted(within_units)))
        query = query.where(OptOut.phone.in_(phones))
    return list(db_session.scalars(query))
