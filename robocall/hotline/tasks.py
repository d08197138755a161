"""rq jobs of the hotline: the duty alerts for urgent reports, the SMS a flow sends."""

from __future__ import annotations

from robocall.db import session_scope
from robocall.hotline import notify
from robocall.hotline.service import record_delivery, take_notification
from robocall.kit.masking import mask_phone


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
