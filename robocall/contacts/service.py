"""Contacts: list and look up, numbers that opted out."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Exists, exists, func, select
from sqlalchemy.orm import Session

from robocall.contacts.models import Classification, Contact, OptOut
from robocall.kit.text import name_key, nfc
from robocall.units.models import Unit
from robocall.units.service import ancestor_ids, descendant_ids, get_by_code


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


def any_opt_out(phone: Any) -> Exists:
    """SQL: whether `phone` (a value or a column) has any opt-out (where it applies is then
    checked with `is_opted_out`)."""
    return exists().where(OptOut.phone == phone)


def _applies(db_session: Session, opt_out: OptOut, unit_id: int | None) -> bool:
    """Whether the opt-out covers a contact of `unit_id`."""
    if opt_out.unit_id is None:
        return True
    return unit_id is not None and opt_out.unit_id in ancestor_ids(
        db_session=db_session, unit_id=unit_id
    )


@dataclass
class OptOutCheck:
    """Opt-outs read once, to judge one number or many (opening a campaign round): one that
    applies everywhere (a resident's own, or the centre's) covers every contact; a unit's
    covers the contacts of that unit and the units below it."""

    units_by_phone: dict[str, list[int | None]]
    _above: dict[int, set[int]] = field(default_factory=dict)

    @classmethod
    def load(cls, db_session: Session, phone: str | None = None) -> OptOutCheck:
        """Every opt-out, or those of one `phone`."""
        query = select(OptOut.phone, OptOut.unit_id)
        if phone is not None:
            query = query.where(OptOut.phone == phone)
        units: dict[str, list[int | None]] = {}
        for phone, unit_id in db_session.execute(query):
            units.setdefault(phone, []).append(unit_id)
        return cls(units)

    def covers(self, db_session: Session, phone: str, unit_ids: Collection[int | None]) -> bool:
        """Whether `phone` must not be reached for contacts of `unit_ids`: an opt-out that
        applies everywhere, or units' opt-outs covering every one of those units."""
        opted = self.units_by_phone.get(phone)
        if not opted:
            return False
        if None in opted:
            return True
        wanted = set(unit_ids)
        return bool(wanted) and all(
            unit_id is not None and any(u in self._units_above(db_session, unit_id) for u in opted)
            for unit_id in wanted
        )

    def _units_above(self, db_session: Session, unit_id: int) -> set[int]:
        if unit_id not in self._above:
            self._above[unit_id] = ancestor_ids(db_session=db_session, unit_id=unit_id)
        return self._above[unit_id]


def is_opted_out(*, db_session: Session, phone: str, unit_ids: Collection[int | None] = ()) -> bool:
    """Whether `phone` must not be called or messaged for contacts of `unit_ids`."""
    return OptOutCheck.load(db_session, phone).covers(db_session, phone, unit_ids)


def opted_out_for_contacts(
    *, db_session: Session, phone: str, contact_ids: Collection[int]
) -> bool:
    """Whether `phone` must not be called or messaged for these contacts (a household): an
    opt-out that applies everywhere, or staff's covering the units of all of them."""
    units = set(db_session.scalars(select(Contact.unit_id).where(Contact.id.in_(contact_ids))))
    return is_opted_out(db_session=db_session, phone=phone, unit_ids=units)


def add_opt_out(
    *,
    db_session: Session,
    phone: str,
    reason: str = "",
    unit_id: int | None = None,
    by_resident: bool = False,
    created_by: str | None = None,
) -> OptOut:
    """Record that this E.164 number must not be called or messaged: everywhere when the
    resident asked, else within `unit_id` and the units below it (None: everywhere).
    Idempotent for the same number, unit and origin."""
    if by_resident:
        unit_id = None
    existing = db_session.scalar(
        select(OptOut).where(
            OptOut.phone == phone,
            OptOut.unit_id.is_(None) if unit_id is None else OptOut.unit_id == unit_id,
            OptOut.by_resident == by_resident,
        )
    )
    if existing is not None:
        return existing
    opt_out = OptOut(
        phone=phone,
        reason=reason,
        unit_id=unit_id,
        by_resident=by_resident,
        created_by=created_by,
    )
    db_session.add(opt_out)
    db_session.flush()
    return opt_out


def remove_opt_out(*, db_session: Session, opt_out: OptOut) -> None:
    """Let the number be called and messaged again where this opt-out applied."""
    db_session.delete(opt_out)
    db_session.flush()


def remove_resident_opt_outs(*, db_session: Session, phone: str) -> bool:
    """The resident asks to be called again (an SMS keyword): lift their own opt-outs, not
    staff's; False when they had none."""
    found = list(
        db_session.scalars(
            select(OptOut).where(OptOut.phone == phone, OptOut.by_resident.is_(True))
        )
    )
    for opt_out in found:
        db_session.delete(opt_out)
    db_session.flush()
    return bool(found)


# What a resident's own opt-out records as its reason: codes, labelled for staff in
# web/strings.yaml (optout_reason_<code>).
RESIDENT_DURING_CALL = "during_call"
RESIDENT_BY_SMS = "sms_keyword"


@dataclass(frozen=True)
class OptOutView:
    """An opt-out as one user may see it."""

    opt_out: OptOut
    reason: str | None  # None: another unit's reason, not shown
    removable: bool  # whether this user may lift it
    needs_reason: bool  # lifting it needs a reason for the audit log (the resident's own)


def may_remove_opt_out(opt_out: OptOut, within_units: Collection[int] | None) -> bool:
    """The unit that made it, a unit above it, or an administrator; a resident's own or an
    administrator's only by an administrator."""
    if within_units is None:
        return True
    return (
        not opt_out.by_resident
        and opt_out.unit_id is not None
        and (opt_out.unit_id in within_units)
    )


def opt_out_view(opt_out: OptOut, within_units: Collection[int] | None) -> OptOutView:
    own = within_units is None or opt_out.by_resident or opt_out.unit_id in within_units
    return OptOutView(
        opt_out=opt_out,
        reason=opt_out.reason if own else None,
        removable=may_remove_opt_out(opt_out, within_units),
        needs_reason=opt_out.by_resident,
    )


def visible_opt_out(
    *, db_session: Session, opt_out_id: int, within_units: Collection[int] | None
) -> OptOut | None:
    """An opt-out the user may see: one that applies to a contact of their units."""
    opt_out = db_session.get(OptOut, opt_out_id)
    if opt_out is None or within_units is None:
        return opt_out
    units = db_session.scalars(
        select(Contact.unit_id).where(
            Contact.phone == opt_out.phone, Contact.unit_id.in_(sorted(within_units))
        )
    )
    return opt_out if any(_applies(db_session, opt_out, u) for u in units) else None


def list_opt_outs(
    *, db_session: Session, within_units: Collection[int] | None = None
) -> list[OptOutView]:
    """Opt-outs newest first; with `within_units`, those that apply to a contact of those
    units, each with what the user may see of it and do with it."""
    query = select(OptOut).order_by(OptOut.created_at.desc(), OptOut.id.desc())
    if within_units is None:
        return [opt_out_view(o, None) for o in db_session.scalars(query)]
    units = sorted(within_units)
    contact_units: dict[str | None, set[int | None]] = {}
    for phone, unit_id in db_session.execute(
        select(Contact.phone, Contact.unit_id).where(
            Contact.unit_id.in_(units),
            Contact.phone.in_(select(OptOut.phone)),
        )
    ):
        contact_units.setdefault(phone, set()).add(unit_id)
    shown = []
    phones = [phone for phone in contact_units if phone]
    for opt_out in db_session.scalars(query.where(OptOut.phone.in_(phones))):
        if any(_applies(db_session, opt_out, u) for u in contact_units[opt_out.phone]):
            shown.append(opt_out_view(opt_out, within_units))
    return shown
