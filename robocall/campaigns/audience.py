"""Who a campaign is for: its audience as contacts, grouped into households by phone."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy import select
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


def monitoring_day(campaign: Campaign, contact: Contact, day: dt.date) -> int | None:
    """Day N of the contact's monitoring on `day` (1 = the day after exposure)."""
    if contact.exposure_date is None:
        return None
    return (day - contact.exposure_date).days


def audience_contacts(
    *, db_session: Session, campaign: Campaign, day: dt.date | None = None
) -> list[Contact]:
    """The contacts the campaign's audience names, in a stable order (by id)."""
    audience = campaign.audience or {}
    query = select(Contact).order_by(Contact.id)
    units = audience.get("units") or []
    if units:
        unit_ids: set[int] = set()
        for code in units:
            unit = get_by_code(db_session=db_session, code=code)
            if unit is not None:
                unit_ids |= descendant_ids(db_session=db_session, unit_id=unit.id) | {unit.id}
        query = query.where(Contact.unit_id.in_(unit_ids))
    if audience.get("classification"):
        query = query.where(Contact.classification == Classification(audience["classification"]))
    if audience.get("batches"):
        query = query.where(Contact.import_batch_id.in_([int(b) for b in audience["batches"]]))
    if audience.get("contacts"):
        query = query.where(Contact.id.in_([int(c) for c in audience["contacts"]]))
    within = audience.get("exposed_within_days")
    if within and day is not None:
        query = query.where(Contact.exposure_date >= day - dt.timedelta(days=int(within)))
    contacts = list(db_session.scalars(query))
    if campaign.schedule == Schedule.daily and day is not None:
        # Each person once a day until exposure date + N days.
        contacts = [
            c
            for c in contacts
            if c.exposure_date is not None
            and c.exposure_date
            < day
            <= c.exposure_date + dt.timedelta(days=campaign.monitoring_days)
        ]
    return contacts


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
