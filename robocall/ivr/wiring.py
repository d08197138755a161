"""Connects the IVR to the provider's call outcomes."""

from __future__ import annotations

from sqlalchemy.orm import Session

from robocall.ivr import service
from robocall.telephony.base import CallEventData
from robocall.telephony.models import Call
from robocall.telephony.service import on_call_event


def _end_session_when_call_ends(db_session: Session, call: Call, _event: CallEventData) -> None:
    """A call's final status closes its IVR session (a caller who hung up keeps their answers)."""
    if call.status.is_final:
        # The IVR speaks Twilio's spelling of call statuses ("no-answer").
        service.end_call(
            db_session=db_session,
            call_sid=call.sid,
            call_status=call.status.value.replace("_", "-"),
        )


def install() -> None:
    """Register the IVR's call listener (idempotent)."""
    on_call_event(_end_session_when_call_ends)
