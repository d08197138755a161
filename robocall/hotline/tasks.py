"""rq jobs of the hotline: the duty alerts for urgent reports, the SMS a flow sends."""

from __future__ import annotations

from robocall.db import session_scope
from robocall.hotline import notify
from robocall.hotline.service import deliver_notification
from robocall.kit.masking import mask_phone


class AlertNotSent(RuntimeError):
    """The alert SMS could not be sent this time; rq retries the job."""


def send_report_notification(notification_id: int) -> None:
    """Send one duty alert; raise (so rq retries) until it is sent."""
    with session_scope() as session:
        sent = deliver_notification(
            db_session=session, notification_id=notification_id, send=notify.send_sms
        )
    if not sent:
        raise AlertNotSent(f"alert {notification_id} not sent yet")


def send_resident_sms(to: str, body: str) -> None:
    """Send an SMS a flow asked for (e.g. the Bluezone link) to the resident."""
    try:
        notify.send_sms(to, body)
    except Exception as exc:
        raise RuntimeError(f"SMS to {mask_phone(to)} failed: {type(exc).__name__}") from exc
