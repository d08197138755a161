"""Provider webhooks of IVR calls: the answer of an outbound call, each step, the hotline.

Every endpoint checks the request signature (`provider_webhook`), reads and writes only the
call's session row and its answers, and answers with TwiML from the database state.
"""

from __future__ import annotations

from fastapi import HTTPException, Request, Response

from robocall.ivr import service
from robocall.ivr.models import CallDirection
from robocall.web.webhook_auth import WebhookRoutes, provider_webhook, query_int
from robocall.web.webhook_transaction import in_webhook_transaction

routes: WebhookRoutes = {}  # under /webhooks/twilio, by path


def _twiml(document: str) -> Response:
    return Response(content=document, media_type="application/xml")


def _missing(exc: service.MissingField) -> HTTPException:
    return HTTPException(status_code=400, detail=f"form field {exc.field} is required")


@provider_webhook(routes, "/gather")
async def caller_answered(request: Request, form: dict[str, str]) -> Response:
    """The caller answered a question (keys, speech, recording or transfer result).

    Query: `step`, the step the question belonged to.
    """
    step = query_int(request, "step")
    try:
        document = await in_webhook_transaction(
            lambda database: service.take_step(db_session=database, form=form, step=step)
        )
        return _twiml(document)
    except service.MissingField as exc:
        raise _missing(exc) from None


@provider_webhook(routes, "/voice")
async def outbound_answered(request: Request, form: dict[str, str]) -> Response:
    """An outbound call was answered: the first TwiML of its flow.

    Query: `flow` (the flow to run, e.g. f1_tracing), `contact` (the contact being called),
    `attempt` (the campaign attempt).
    """
    flow = request.query_params.get("flow")
    if not flow:
        raise HTTPException(status_code=422, detail="query parameter flow is required")
    contact, attempt = query_int(request, "contact"), query_int(request, "attempt")
    try:
        document = await in_webhook_transaction(
            lambda database: service.answer_call(
                db_session=database,
                form=form,
                direction=CallDirection.outbound,
                flow_name=flow,
                contact_id=contact,
                attempt_id=attempt,
            )
        )
        return _twiml(document)
    except service.MissingField as exc:
        raise _missing(exc) from None


@provider_webhook(routes, "/hotline")
async def hotline_called(request: Request, form: dict[str, str]) -> Response:
    """Someone called the hotline: greet them and open the menu (query `flow`: another
    inbound flow)."""
    flow = request.query_params.get("flow") or service.HOTLINE_FLOW
    try:
        document = await in_webhook_transaction(
            lambda database: service.answer_call(
                db_session=database, form=form, direction=CallDirection.inbound, flow_name=flow
            )
        )
        return _twiml(document)
    except service.MissingField as exc:
        raise _missing(exc) from None


@provider_webhook(routes, "/hotline/status")
async def hotline_call_status(_request: Request, form: dict[str, str]) -> Response:
    """The hotline call's status changed; a caller who hung up keeps what they said."""
    call_sid = form.get("CallSid")
    if not call_sid:
        raise HTTPException(status_code=400, detail="form field CallSid is required")
    await in_webhook_transaction(
        lambda database: service.end_call(
            db_session=database, call_sid=call_sid, call_status=form.get("CallStatus", "")
        )
    )
    return Response(status_code=204)
