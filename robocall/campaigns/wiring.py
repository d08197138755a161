"""Plugging campaigns, contacts and SMS into telephony, the IVR, the hotline and the scheduler.

Processes that run jobs call `wire()` (bootstrap); the web app calls `wire_once()`, which
leaves the SMS sender alone (webhooks never send SMS themselves; jobs do, in workers).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.config import get_settings
from robocall.contacts.models import Contact
from robocall.db import session_scope, utcnow
from robocall.ivr.service import ContactMatch

MONITORING_DAYS = 14  # days of isolation/monitoring after the last exposure
_wired = False


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


def send_through_provider(*, to: str, body: str) -> str:
    """The hotline's SMS sender: the real provider, recorded as a Message."""
    from robocall.telephony.service import send_sms

    with session_scope() as db_session:
        return send_sms(db_session=db_session, to=to, body=body).sid


def sent_through_provider(*, to: str, body: str, since: dt.datetime) -> str | None:
    """Whether the provider sent this alert after all (a worker died while sending it)."""
    from robocall.telephony.service import sent_sms_since

    return sent_sms_since(to=to, body=body, since=since)


def wire_once() -> None:
    """Wire this process the first time it is asked (the web app), without the SMS sender."""
    global _wired
    if not _wired:
        wire(sms_sender=False)
        _wired = True


def wire(*, sms_sender: bool = True) -> None:
    """Register listeners, effect handlers, contact lookups, the SMS sender and periodic jobs."""
    from robocall.campaigns import dispatch, outcomes
    from robocall.exports.scheduled import SWEEP_SECONDS as exports_sweep_seconds
    from robocall.exports.scheduled import exports_sweeper
    from robocall.hotline import notify
    from robocall.hotline.scheduled import SWEEP_SECONDS as alerts_sweeper_seconds
    from robocall.hotline.scheduled import alerts_sweeper
    from robocall.importers.scheduled import SWEEP_SECONDS as uploads_sweep_seconds
    from robocall.importers.scheduled import uploads_sweeper
    from robocall.ivr import service as ivr
    from robocall.privacy.scheduled import CHECK_EVERY as RETENTION_CHECK_EVERY
    from robocall.privacy.scheduled import JOB_NAME as RETENTION_JOB
    from robocall.privacy.scheduled import anonymise_expired_job
    from robocall.sms.inbound import handle_inbound_sms
    from robocall.telephony import service as telephony
    from robocall.workers.periodic import PeriodicJob, register

    telephony.on_call_event(outcomes.on_call_event)
    telephony.on_inbound_sms(handle_inbound_sms)
    ivr.clear_effect_handlers("mark_wrong_number")
    ivr.clear_effect_handlers("opt_out")
    ivr.register_effect_handler("mark_wrong_number", outcomes.on_wrong_number)
    ivr.register_effect_handler("opt_out", outcomes.on_opt_out)
    ivr.set_contact_lookups(by_phone=contact_by_phone, by_id=contact_by_id)
    if sms_sender:
        notify.set_sms_sender(send_through_provider)
        notify.set_sent_lookup(sent_through_provider)
    register(
        PeriodicJob(
            "campaign_tick",
            dispatch.TICK_SECONDS,
            dispatch.scheduler_tick,
            "claim due campaign calls and SMS and queue them",
        )
    )
    register(
        PeriodicJob(
            RETENTION_JOB,
            RETENTION_CHECK_EVERY,
            anonymise_expired_job,
            "anonymise personal data past the retention period (once a local day)",
        )
    )
    register(
        PeriodicJob(
            "uploads_sweeper",
            uploads_sweep_seconds,
            uploads_sweeper,
            "queue again confirmed uploads whose job or worker was lost; delete expired previews",
        )
    )
    register(
        PeriodicJob(
            "exports_sweeper",
            exports_sweep_seconds,
            exports_sweeper,
            "queue again prepared exports whose job or worker was lost; forget old ones",
        )
    )
    register(
        PeriodicJob(
            "alerts_sweeper",
            alerts_sweeper_seconds,
            alerts_sweeper,
            "queue again duty alerts whose job was lost; check those a dead worker held",
        )
    )
    register(
        PeriodicJob(
            "campaign_sweeper",
            15.0,
            dispatch.sweeper_job,
            "recover calls and SMS whose callbacks or jobs were lost",
        )
    )
