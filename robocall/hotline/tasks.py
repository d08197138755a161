"""rq jobs of the hotline: the duty alerts for urgent reports, the SMS a flow sends."""

from __future__ import annotations

from robocall.db import session_scope
from robocall.hotline import notify
from robocall.hotline.models import ReportNotification
from robocall.hotline.service import record_delivery, settle_stuck_alert, take_notification
from robocall.kit.masking import mask_phone
from robocall.workers.queues import enqueue_after_commit


class AlertNotSent(RuntimeError):
    """The alert SMS could not be sent this time; rq retries the job."""


def send_report_notification(notification_id: int) -> None:
    """Send one duty alert; raise (so rq retries) until it is sent.

    No transaction is held while the provider is called: the sender records its own Message,
    and on SQLite an open write transaction here would lock it out.
    """
    with session_scope() as session:
        alert = take_notification(db_session=session, notification_id=notification_id)
    if alert is None:
        return
    try:
        provider_id, error = notify.send_sms(alert.to, alert.body), None
    except Exception as exc:
        provider_id, error = None, f"{type(exc).__name__}: {exc}"
    with session_scope() as session:
        sent = record_delivery(
            db_session=session,
            notification_id=notification_id,
            provider_id=provider_id,
            error=error,
        )
    if not sent:
        raise AlertNotSent(f"alert {notification_id} not sent yet")


def send_resident_sms(to: str, body: str) -> None:
    """Send an SMS a flow asked for (e.g. the Bluezone link) to the resident."""
    try:
        notify.send_sms(to, body)
    except Exception as exc:
        raise RuntimeError(f"SMS to {mask_phone(to)} failed: {type(exc).__name__}") from exc


def recover_alert(notification_id: int) -> None:
    """A worker took this alert and died: ask whether it went before it is sent again."""
    with session_scope() as session:
        notification = session.get(ReportNotification, notification_id)
        if notification is None or notification.taken_at is None:
            return
        to, body, since = notification.to, notification.body, notification.taken_at
    sent_id = notify.sent_since(to, body, since)
    with session_scope() as session:
        status = settle_stuck_alert(
            db_session=session, notification_id=notification_id, sent_id=sent_id
        )
        if status is not None and sent_id is None:
            enqueue_after_commit(session, send_report_notification, notification_id, queue="sms")
