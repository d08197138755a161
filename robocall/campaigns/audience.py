"""Who a campaign is for: its audience as contacts, grouped into households by phone."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from robocall.campaigns.models import Campaign, Schedule
from robocall.contacts.models import Classification, Contact
from robocall.units.service import descendant_ids, get_by_code


@dataclass
class Household:
    """Contacts of one campaign sharing a phone (or one contact with no phone)."""

    phone: str | None
    contacts: list[Contact] = field(default_factory=list)

    @property
    def sms_capable(self) -> bool:
        return any(c.sms_capable for c in self.contacts)


def audience_query(
    *, db_session: Session, campaign: Campaign, day: dt.date | None, columns: Sequence[Any]
) -> Select[Any]:
    """SQL for the contacts the campaign's audience names, in a stable order (by id); a daily
    campaign's only while their monitoring lasts on `day`."""
    audience = campaign.audience or {}
    query = select(*columns).order_by(Contact.id)
    units = audience.get("units") or []
    if units:
        unit_ids: set[int] = set()
        for code in units:
            unit = get_by_code(db_session=db_session, code=code)
            if unit is not None:
                unit_ids |= descendant_ids(db_session=db_session, unit_id=unit.id) | {unit.id}
        query = query.where(Contact.unit_id.in_(sorted(unit_ids)))
    if audience.get("classification"):
        query = query.where(Contact.classification == Classification(audience["classification"]))
    if audience.get("batches"):
        query = query.where(Contact.import_batch_id.in_([int(b) for b in audience["batches"]]))
    if audience.get("contacts"):
        query = query.where(Contact.id.in_([int(c) for c in audience["contacts"]]))
    within = audience.get("exposed_within_days")
    if within and day is not None:
        query = query.where(Contact.exposure_date >= day - dt.timedelta(days=int(within)))
    if campaign.schedule == Schedule.daily and day is not None:
        # Each person once a day until exposure date + N days.
        query = query.where(
            Contact.exposure_date < day,
            Contact.exposure_date >= day - dt.timedelta(days=campaign.monitoring_days),
        )
    return query


def audience_contacts(
    *, db_session: Session, campaign: Campaign, day: dt.date | None = None
) -> list[Contact]:
    """The contacts the campaign's audience names, in a stable order (by id)."""
    query = audience_query(db_session=db_session, campaign=campaign, day=day, columns=[Contact])
    return list(db_session.scalars(query))


def audience_exists(*, db_session: Session, campaign: Campaign, day: dt.date | None) -> bool:
    """Whether anyone in the audience is due on `day`."""
    query = audience_query(db_session=db_session, campaign=campaign, day=day, columns=[Contact.id])
    return db_session.scalar(query.limit(1)) is not None


@dataclass
class Reached:
    """One phone of a round: the contacts sharing it, read as plain columns."""

    phone: str | None
    contact_ids: list[int]
    unit_ids: set[int | None]
    sms_capable: bool
    exposure_date: dt.date | None  # of the first contact (the one the call asks for)


STREAM_ROWS = 5000  # contacts read from the database at a time


def audience_phones(
    *, db_session: Session, campaign: Campaign, day: dt.date | None
) -> list[Reached]:
    """The round's phones: one per phone number, one per contact with no phone, in the order
    of their first contact. Read as columns a batch at a time, not as ORM objects, so that a
    province's list fits in memory."""
    query = audience_query(
        db_session=db_session,
        campaign=campaign,
        day=day,
        columns=[
            Contact.id,
            Contact.phone,
            Contact.unit_id,
            Contact.sms_capable,
            Contact.exposure_date,
        ],
    ).execution_options(yield_per=STREAM_ROWS)
    by_phone: dict[str, Reached] = {}
    alone: list[Reached] = []
    for contact_id, phone, unit_id, sms_capable, exposure_date in db_session.execute(query):
        if not phone:
            alone.append(Reached(None, [contact_id], {unit_id}, bool(sms_capable), exposure_date))
            continue
        reached = by_phone.get(phone)
        if reached is None:
            by_phone[phone] = Reached(
                phone, [contact_id], {unit_id}, bool(sms_capable), exposure_date
            )
            continue
        reached.contact_ids.append(contact_id)
        reached.unit_ids.add(unit_id)
        reached.sms_capable = reached.sms_capable or bool(sms_capable)
    return [*by_phone.values(), *alone]


def households(contacts: list[Contact]) -> list[Household]:
    """One household per phone; each contact with no phone on its own."""
    by_phone: OrderedDict[str, Household] = OrderedDict()
    alone: list[Household] = []
    for contact in contacts:
        if not contact.phone:
            alone.append(Household(None, [contact]))
            continue
        by_phone.setdefault(contact.phone, Household(contact.phone)).contacts.append(contact)
    return list(by_phone.values()) + alone
