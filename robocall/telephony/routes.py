"""Provider webhooks about calls and SMS: signed, stored once, answered fast."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response
from sqlalchemy.orm import Session

from robocall.http.deps import db_session
from robocall.telephony.base import CallEventKind
from robocall.telephony.service import (
    record_call_event,
    record_inbound_sms,
    record_message_event,
)
from robocall.telephony.twilio_provider import call_event_from, message_event_from
from robocall.telephony.webhook_auth import SignedForm

# Under /webhooks/twilio (see `robocall.web.webhooks`).
router = APIRouter()

# The request's transaction, committed before the answer is sent.
Database = Annotated[Session, Depends(db_session, scope="function")]

# An empty TwiML answer: nothing to say back to the caller or sender.
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def _record_call(session: Session, kind: CallEventKind, form: dict[str, str]) -> Response:
    if not form.get("CallSid"):
        raise HTTPException(status_code=400, detail="form field CallSid is missing")
    try:
        event = call_event_from(kind=kind, params=form)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=f"form field CallStatus: {exc}") from None
    record_call_event(db_session=session, event=event)
    return Response(status_code=204)


@router.post("/status")
def call_status_webhook(form: SignedForm, session: Database) -> Response:
    """Call progress of every call, outbound or to the hotline: initiated, ringing, answered
    (in-progress), completed/busy/... A call that ends closes its IVR session."""
    return _record_call(session, CallEventKind.status, form)


@router.post("/amd")
def answering_machine_webhook(form: SignedForm, session: Database) -> Response:
    """The answering-machine detector's result (AnsweredBy)."""
    return _record_call(session, CallEventKind.amd, form)


@router.post("/recording")
def recording_webhook(form: SignedForm, session: Database) -> Response:
    """A recording of the call is ready (RecordingUrl, RecordingDuration)."""
    return _record_call(session, CallEventKind.recording, form)


@router.post("/sms-status")
def sms_status_webhook(form: SignedForm, session: Database) -> Response:
    """SMS delivery: sent, then delivered, undelivered or failed (ErrorCode)."""
    if not (form.get("MessageSid") or form.get("SmsSid")):
        raise HTTPException(status_code=400, detail="form field MessageSid is missing")
    try:
        event = message_event_from(params=form)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=f"form field MessageStatus: {exc}") from None
    record_message_event(db_session=session, event=event)
    return Response(status_code=204)


@router.post("/sms")
def inbound_sms_webhook(form: SignedForm, session: Database) -> Response:
    """An SMS from a resident; stored once, handed to the inbound-SMS listeners."""
    if not (form.get("MessageSid") or form.get("SmsSid")):
        raise HTTPException(status_code=400, detail="form field MessageSid is missing")
    if not form.get("From"):
        raise HTTPException(status_code=400, detail="form field From is missing")
    event = message_event_from(params=form)
    record_inbound_sms(db_session=session, event=event)
    return Response(content=EMPTY_TWIML, media_type="application/xml")
