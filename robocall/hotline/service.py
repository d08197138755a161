"""Reports and declarations: record, escalate to the duty numbers, list, acknowledge, close."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from jinja2.sandbox import SandboxedEnvironment
from rq import Retry
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from robocall.contacts.models import Contact
from robocall.db import utcnow
from robocall.hotline.duty import DutyEntry, DutyRoster
from robocall.hotline.models import (
    HotlineReport,
    NotificationStatus,
    ReportChannel,
    ReportContact,
    ReportKind,
    ReportNotification,
    ReportStatus,
)
from robocall.hotline.scoping import reports_within
from robocall.kit.masking import mask_phone
from robocall.units.models import Unit
from robocall.units.service import descendant_ids, get_by_code
from robocall.users.service import Scope
from robocall.workers.queues import enqueue_after_commit

log = logging.getLogger(__name__)

# The jobs that send what this module queues (robocall.hotline.tasks runs them).
SEND_ALERT_JOB = "robocall.hotline.tasks.send_report_notification"
SEND_RESIDENT_SMS_JOB = "robocall.hotline.tasks.send_resident_sms"

# Seconds between tries of an alert SMS: quick at first, then every 5 minutes for an hour.
ALERT_RETRY_INTERVALS = [5, 15, 30, 60, 120] + [300] * 12
# A queued alert not taken this long after it was due lost its job: queued again.
ALERT_LOST_AFTER = dt.timedelta(seconds=20)
# A worker that took an alert and has not finished this long later died: the provider is asked
# whether it went (three tries of a 15 s request fit well within).
ALERT_STUCK_AFTER = dt.timedelta(seconds=60)
_ALERT_ENV = SandboxedEnvironment(autoescape=False)


class ReportNotFound(LookupError):
    """No report with that id."""


class UnknownUnit(LookupError):
    """No unit with that code."""


@dataclass(frozen=True)
class ReportSource:
    """Where a report comes from and whom it concerns."""

    channel: ReportChannel
    phone: str
    contact_id: int | None = None
    unit_id: int | None = None
    call_session_id: int | None = None
    name: str | None = None  # the contact's name, for the duty alert


def file_report(
    *, db_session: Session, source: ReportSource, data: dict[str, Any], roster: DutyRoster
) -> int:
    """Create or update the report of a call (one per call) from what the caller answered,
    and escalate it if the answers are urgent; the report's id."""
    now = utcnow()
    answers = {
        "symptoms": list(data.get("symptoms", [])),
        "temperature": data.get("temperature"),
        "spo2": data.get("spo2"),
        "answers": dict(data.get("answers", {})),
        "recording_urls": list(data.get("recordings", [])),
        "complete": not data.get("partial", False),
    }
    message = str(data["message"]) if data.get("message") else None
    report = (
        db_session.scalars(
            select(HotlineReport)
            .where(HotlineReport.call_session_id == source.call_session_id)
            .with_for_update()
        ).one_or_none()
        if source.call_session_id is not None
        else None
    )
    if report is not None:
        for name, value in answers.items():
            setattr(report, name, value)
        report.updated_at = now
        # Kept unless given: a partial report keeps its kind, no message keeps the last.
        if data.get("kind") and not data.get("partial"):
            report.kind = ReportKind(data["kind"])
        if message is not None:
            report.message = message
    else:
        report = HotlineReport(
            **answers,
            channel=source.channel,
            kind=ReportKind(data.get("kind", "symptoms")),
            phone=source.phone,
            contact_id=source.contact_id,
            unit_id=source.unit_id,
            call_session_id=source.call_session_id,
            message=message,
            urgent=False,
            urgent_reasons=[],
            status=ReportStatus.new,
            created_at=now,
            updated_at=now,
        )
        db_session.add(report)
        db_session.flush()
        _link_contacts(db_session, report.id, source)
    if data.get("urgent"):
        escalate_report(
            db_session=db_session,
            report=report,
            reasons=list(data.get("urgent_reasons", [])),
            roster=roster,
            name=source.name,
        )
    return report.id


def _link_contacts(db_session: Session, report_id: int, source: ReportSource) -> None:
    """Link a new report to every contact it concerns, so each of their units sees it: a
    campaign call's, the contacts of its unit with that number; a hotline call's or SMS's,
    every contact with that number in any unit."""
    query = select(Contact.id, Contact.unit_id).where(Contact.phone == source.phone)
    if source.channel is ReportChannel.outbound_call and source.unit_id is not None:
        query = query.where(Contact.unit_id == source.unit_id)
    links = [
        {"report_id": report_id, "contact_id": contact_id, "unit_id": unit_id}
        for contact_id, unit_id in db_session.execute(query)
    ]
    if source.contact_id is not None and source.contact_id not in {
        link["contact_id"] for link in links
    }:
        contact = db_session.get(Contact, source.contact_id)
        if contact is not None:
            links.append(
                {"report_id": report_id, "contact_id": contact.id, "unit_id": contact.unit_id}
            )
    if links:
        db_session.execute(insert(ReportContact), links)


def record_report(
    *, db_session: Session, source: ReportSource, data: dict[str, Any], roster: DutyRoster
) -> HotlineReport:
    """`file_report`, returning the report."""
    report_id = file_report(db_session=db_session, source=source, data=data, roster=roster)
    report = db_session.get(HotlineReport, report_id)
    assert report is not None, "the report was written in this transaction"
    return report


def unit_codes_upwards(*, db_session: Session, unit_id: int | None) -> list[str]:
    """The unit's code and its parents' codes, nearest first."""
    codes: list[str] = []
    seen: set[int] = set()
    while unit_id is not None and unit_id not in seen:
        seen.add(unit_id)
        unit = db_session.get(Unit, unit_id)
        if unit is None:
            break
        codes.append(unit.code)
        unit_id = unit.parent_id
    return codes


def duty_for_unit(*, db_session: Session, unit_id: int | None, roster: DutyRoster) -> DutyEntry:
    """The duty entry that covers a unit (its own, a parent's, or the default)."""
    return roster.for_units(unit_codes_upwards(db_session=db_session, unit_id=unit_id))


def report_units(*, db_session: Session, report: HotlineReport) -> set[int | None]:
    """The units a report concerns: its own, else those of every contact it is linked to
    (None: no unit is known, the roster's default duty numbers)."""
    if report.unit_id is not None:
        return {report.unit_id}
    linked = set(
        db_session.scalars(
            select(ReportContact.unit_id).where(ReportContact.report_id == report.id)
        )
    )
    return linked or {None}


def alert_text(*, report: HotlineReport, roster: DutyRoster, name: str | None) -> str:
    """The SMS the duty numbers receive about an urgent report."""
    temperature = f"{report.temperature:g}°C" if report.temperature is not None else ""
    return " ".join(
        _ALERT_ENV.from_string(roster.alert)
        .render(
            report_id=report.id,
            phone=report.phone,
            name=name or "",
            symptoms=", ".join(roster.name_of(s) for s in report.symptoms),
            reasons=", ".join(roster.name_of(r) for r in report.urgent_reasons),
            temperature=temperature,
            spo2=f"SpO2 {report.spo2}%" if report.spo2 is not None else "",
            channel=roster.name_of(report.channel.value),
        )
        .split()
    )


def escalate_report(
    *,
    db_session: Session,
    report: HotlineReport,
    reasons: list[str],
    roster: DutyRoster,
    name: str | None = None,
) -> list[ReportNotification]:
    """Mark a report urgent and queue one SMS per duty number (once per report)."""
    for reason in reasons:
        if reason and reason not in report.urgent_reasons:
            report.urgent_reasons = [*report.urgent_reasons, reason]
    if report.urgent:
        return []
    report.urgent = True
    db_session.flush()
    duty_phones: list[str] = []
    for unit_id in sorted(report_units(db_session=db_session, report=report), key=str):
        entry = duty_for_unit(db_session=db_session, unit_id=unit_id, roster=roster)
        if not entry.sms:
            log.warning("urgent report %s: no duty number configured for a unit", report.id)
        duty_phones += [phone for phone in entry.sms if phone not in duty_phones]
    body = alert_text(report=report, roster=roster, name=name)
    created: list[ReportNotification] = []
    for phone in duty_phones:
        notification = ReportNotification(report_id=report.id, to=phone, body=body)
        db_session.add(notification)
        created.append(notification)
    db_session.flush()
    for notification in created:
        enqueue_after_commit(
            db_session,
            SEND_ALERT_JOB,
            notification.id,
            queue="sms",
            rq_options={
                "retry": Retry(max=len(ALERT_RETRY_INTERVALS), interval=ALERT_RETRY_INTERVALS)
            },
        )
    log.info("report %s urgent; %d duty alert(s) queued", report.id, len(created))
    return created


@dataclass(frozen=True)
class PendingAlert:
    """An alert taken for sending: where it goes and what it says."""

    notification_id: int
    to: str
    body: str


def take_notification(*, db_session: Session, notification_id: int) -> PendingAlert | None:
    """Take a queued alert to send it, counting the try; None if another worker has it, or
    it was sent or given up. Atomic: of two jobs for one alert, one sends."""
    now = utcnow()
    taken = db_session.execute(
        update(ReportNotification)
        .where(
            ReportNotification.id == notification_id,
            ReportNotification.status == NotificationStatus.queued,
        )
        .values(
            status=NotificationStatus.sending,
            taken_at=now,
            tries=ReportNotification.tries + 1,
        )
        .returning(ReportNotification.to, ReportNotification.body)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if taken is None:
        return None
    return PendingAlert(notification_id, taken.to, taken.body)


def record_delivery(
    *,
    db_session: Session,
    notification_id: int,
    provider_id: str | None = None,
    error: str | None = None,
) -> bool:
    """Note how sending went; True once the alert is sent. A failed try puts it back in the
    queue, due again after the next retry interval (or failed, after the last)."""
    notification = db_session.get(ReportNotification, notification_id, with_for_update=True)
    if notification is None or notification.status == NotificationStatus.sent:
        return True
    if error is not None:
        notification.error = error[:500]
        if notification.tries > len(ALERT_RETRY_INTERVALS):
            notification.status = NotificationStatus.failed
        else:
            notification.status = NotificationStatus.queued
            wait = ALERT_RETRY_INTERVALS[max(notification.tries - 1, 0)]
            notification.next_try_at = utcnow() + dt.timedelta(seconds=wait)
        log.warning(
            "alert %s to %s failed (try %d): %s",
            notification.id,
            mask_phone(notification.to),
            notification.tries,
            notification.error,
        )
        return False
    notification.provider_id = provider_id
    notification.status = NotificationStatus.sent
    notification.sent_at = utcnow()
    notification.error = None
    return True


def alerts_to_send_again(*, db_session: Session, now: dt.datetime) -> list[int]:
    """Queued alerts whose job was lost (Redis down when it was queued, or restarted since):
    not taken ALERT_LOST_AFTER after they were due."""
    late = now - ALERT_LOST_AFTER
    return list(
        db_session.scalars(
            select(ReportNotification.id).where(
                ReportNotification.status == NotificationStatus.queued,
                func.coalesce(ReportNotification.next_try_at, ReportNotification.created_at)
                <= late,
            )
        )
    )


def alerts_stuck_sending(*, db_session: Session, now: dt.datetime) -> list[int]:
    """Alerts a worker took and never finished (it died while asking the provider)."""
    return list(
        db_session.scalars(
            select(ReportNotification.id).where(
                ReportNotification.status == NotificationStatus.sending,
                ReportNotification.taken_at <= now - ALERT_STUCK_AFTER,
            )
        )
    )


def settle_stuck_alert(
    *, db_session: Session, notification_id: int, sent_id: str | None
) -> NotificationStatus | None:
    """A stuck alert, after asking the provider: sent (its message id found), or back in the
    queue to be sent now (the provider has no such message)."""
    notification = db_session.get(ReportNotification, notification_id, with_for_update=True)
    if notification is None or notification.status != NotificationStatus.sending:
        return None
    if sent_id is not None:
        notification.status = NotificationStatus.sent
        notification.provider_id = sent_id
        notification.sent_at = utcnow()
        notification.error = None
    else:
        notification.status = NotificationStatus.queued
        notification.next_try_at = utcnow()
    return notification.status


def failed_alerts(
    *, db_session: Session, scope: Scope, limit: int = 20
) -> list[ReportNotification]:
    """Alerts given up after every try about reports still open, that the scope may see,
    newest first: the duty doctor never heard of these, so staff must call them."""
    open_reports = reports_within(
        select(HotlineReport.id).where(HotlineReport.status != ReportStatus.closed), scope
    )
    query = (
        select(ReportNotification)
        .where(
            ReportNotification.status == NotificationStatus.failed,
            ReportNotification.report_id.in_(open_reports),
        )
        .order_by(ReportNotification.created_at.desc(), ReportNotification.id.desc())
        .limit(limit)
    )
    return list(db_session.scalars(query))


def deliver_notification(*, db_session: Session, notification_id: int, send: Any) -> bool:
    """Send one queued alert with `send(to, body)` in this transaction; True once it is sent.

    For a sender that writes to the database itself (the provider records a Message), use
    `take_notification`, send outside the transaction, then `record_delivery` (as the rq job
    does), so that no transaction is held open across the provider call.
    """
    alert = take_notification(db_session=db_session, notification_id=notification_id)
    if alert is None:
        return True
    try:
        provider_id = send(alert.to, alert.body)
    except Exception as exc:
        return record_delivery(
            db_session=db_session, notification_id=alert.notification_id, error=_error_text(exc)
        )
    return record_delivery(
        db_session=db_session, notification_id=alert.notification_id, provider_id=provider_id
    )


def _error_text(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def list_reports(
    *, db_session: Session, urgent_only: bool = False, unit_code: str | None = None
) -> list[HotlineReport]:
    """Reports, urgent ones first, newest first within each."""
    query = select(HotlineReport)
    if urgent_only:
        query = query.where(HotlineReport.urgent.is_(True))
    if unit_code is not None:
        unit = get_by_code(db_session=db_session, code=unit_code)
        if unit is None:
            raise UnknownUnit(f"no unit with code {unit_code!r}")
        units = descendant_ids(db_session=db_session, unit_id=unit.id)
        query = query.where(HotlineReport.unit_id.in_(units))
    query = query.order_by(
        HotlineReport.urgent.desc(), HotlineReport.created_at.desc(), HotlineReport.id.desc()
    )
    return list(db_session.scalars(query))


def set_report_status(
    *, db_session: Session, report_id: int, status: ReportStatus, by: str
) -> HotlineReport:
    """Acknowledge or close a report, noting who and when."""
    report = db_session.get(HotlineReport, report_id)
    if report is None:
        raise ReportNotFound(f"no report #{report_id}")
    now = utcnow()
    if status == ReportStatus.acknowledged and report.status == ReportStatus.new:
        report.status, report.acknowledged_by, report.acknowledged_at = status, by, now
    elif status == ReportStatus.closed and report.status != ReportStatus.closed:
        if report.acknowledged_at is None:
            report.acknowledged_by, report.acknowledged_at = by, now
        report.status, report.closed_by, report.closed_at = status, by, now
    return report


def report_as_dict(report: HotlineReport) -> dict[str, Any]:
    """A report as the JSON that `robocall reports list --json` prints."""
    return {
        "id": report.id,
        "channel": report.channel.value,
        "kind": report.kind.value,
        "phone": report.phone,
        "contact_id": report.contact_id,
        "unit_id": report.unit_id,
        "symptoms": list(report.symptoms),
        "temperature": report.temperature,
        "spo2": report.spo2,
        "urgent": report.urgent,
        "urgent_reasons": list(report.urgent_reasons),
        "complete": report.complete,
        "status": report.status.value,
        "created_at": report.created_at.isoformat(),
        "answers": dict(report.answers),
        "recording_urls": list(report.recording_urls),
        "message": report.message,
        "acknowledged_by": report.acknowledged_by,
        "acknowledged_at": report.acknowledged_at.isoformat() if report.acknowledged_at else None,
        "closed_by": report.closed_by,
        "closed_at": report.closed_at.isoformat() if report.closed_at else None,
        "notifications": [
            {"to": n.to, "status": n.status.value, "sent_at": n.sent_at and n.sent_at.isoformat()}
            for n in report.notifications
        ],
    }
