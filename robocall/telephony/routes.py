"""Provider webhooks about calls and SMS: signed, stored once, answered fast."""

from __future__ import annotations

from fastapi import HTTPException, Request, Response

from robocall.telephony.base import CallEventKind
from robocall.telephony.service import (
    record_call_event,
    record_inbound_sms,
    record_message_event,
)
from robocall.telephony.twilio_provider import call_event_from, message_event_from
from robocall.web.webhook_auth import WebhookRoutes, provider_webhook
from robocall.web.webhook_transaction import in_webhook_transaction

routes: WebhookRoutes = {}  # under /webhooks/twilio, by path

# An empty TwiML answer: nothing to say back to the caller or sender.
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


async def _record_call(kind: CallEventKind, form: dict[str, str]) -> Response:
    if not form.get("CallSid"):
        raise HTTPException(status_code=400, detail="form field CallSid is missing")
    try:
        event = call_event_from(kind=kind, params=form)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=f"form field CallStatus: {exc}") from None
    await in_webhook_transaction(lambda session: record_call_event(db_session=session, event=event))
    return Response(status_code=204)


@provider_webhook(routes, "/status")
async def call_status_webhook(_request: Request, form: dict[str, str]) -> Response:
    """Call progress: initiated, ringing, answered (in-progress), completed/busy/..."""
    return await _record_call(CallEventKind.status, form)


@provider_webhook(routes, "/amd")
async def answering_machine_webhook(_request: Request, form: dict[str, str]) -> Response:
    """The answering-machine detector's result (AnsweredBy)."""
    return await _record_call(CallEventKind.amd, form)


@provider_webhook(routes, "/recording")
async def recording_webhook(_request: Request, form: dict[str, str]) -> Response:
    """A recording of the call is ready (RecordingUrl, RecordingDuration)."""
    return await _record_call(CallEventKind.recording, form)


@provider_webhook(routes, "/sms-status")
async def sms_status_webhook(_request: Request, form: dict[str, str]) -> Response:
    """SMS delivery: sent, then delivered, undelivered or failed (ErrorCode)."""
    if not (form.get("MessageSid") or form.get("SmsSid")):
        raise HTTPException(status_code=400, detail="form field MessageSid is missing")
    try:
        event = message_event_from(params=form)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=f"form field MessageStatus: {exc}") from None
    await in_webhook_transaction(
        lambda session: record_message_event(db_session=session, event=event)
    )
    return Response(status_code=204)


@provider_webhook(routes, "/sms")
async def inbound_sms_webhook(_request: Request, form: dict[str, str]) -> Response:
    """An SMS from a resident; stored once, handed to the inbound-SMS listeners."""
    if not (form.get("MessageSid") or form.get("SmsSid")):
        raise HTTPException(status_code=400, detail="form field MessageSid is missing")
    if not form.get("From"):
        raise HTTPException(status_code=400, detail="form field From is missing")
    event = message_event_from(params=form)
    await in_webhook_transaction(
        lambda session: record_inbound_sms(db_session=session, event=event)
    )
    return Response(content=EMPTY_TWIML, media_type="application/xml")
