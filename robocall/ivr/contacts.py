"""Who a call is for: the contact lookups the IVR greets callers and fills flows with."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.config import get_settings
from robocall.contacts.models import MONITORING_DAYS, Contact
from robocall.db import utcnow
from robocall.ivr.service import ContactMatch


def _match(db_session: Session, contact: Contact) -> ContactMatch:
    settings = get_settings()
    today = utcnow().astimezone(settings.zone).date()
    household = [contact]
    if contact.phone:
        household = list(
            db_session.scalars(
                select(Contact)
                .where(
                    Contact.phone == contact.phone,
                    Contact.unit_id == contact.unit_id,
                    Contact.classification == contact.classification,
                )
                .order_by(Contact.id)
            )
        ) or [contact]
        household.sort(key=lambda c: c.id != contact.id)  # the one asked for first
    context: dict[str, object] = {
        "name": contact.name,
        "household_names": [c.name for c in household],
        "health_centre": settings.health_centre_name,
        "monitoring_days": MONITORING_DAYS,
        "language": "vi",
    }
    if contact.exposure_date is not None:
        end = contact.exposure_date + dt.timedelta(days=MONITORING_DAYS)
        context["isolation_end_date"] = end.isoformat()
        context["monitoring_day"] = (today - contact.exposure_date).days
    return ContactMatch(contact_id=contact.id, unit_id=contact.unit_id, context=context)


def contact_by_id(db_session: Session, contact_id: int) -> ContactMatch | None:
    """Who an outbound call is for (and everyone sharing the phone)."""
    contact = db_session.get(Contact, contact_id)
    return _match(db_session, contact) if contact is not None else None


def contact_by_phone(db_session: Session, phone: str) -> ContactMatch | None:
    """Who is calling the hotline, if the lists know the number.

    A number the lists of several units share, or several people's, names no one: the
    greeting must not speak one person's name to another, and the report is linked to every
    contact with that number (so each of their units sees it and is alerted).
    """
    contacts = list(
        db_session.scalars(select(Contact).where(Contact.phone == phone).order_by(Contact.id))
    )
    if not contacts:
        return None
    units = {contact.unit_id for contact in contacts}
    people = {contact.match_key for contact in contacts}
    if len(units) == 1 and len(people) == 1:
        return _match(db_session, contacts[-1])
    context: dict[str, object] = {
        "health_centre": get_settings().health_centre_name,
        "monitoring_days": MONITORING_DAYS,
        "language": "vi",
    }
    unit_id = units.pop() if len(units) == 1 else None
    return ContactMatch(contact_id=None, unit_id=unit_id, context=context)
