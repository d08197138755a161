"""Provider webhooks of IVR calls: the answer of an outbound call, each step, the hotline.

Every endpoint checks the request signature (`signed_form`), reads and writes only the
call's session row and its answers, and answers with TwiML from the database state.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from robocall.ivr import service
from robocall.ivr.models import CallDirection
from robocall.web.webhook_auth import signed_form
from robocall.web.webhook_transaction import in_webhook_transaction

router = APIRouter(prefix="/webhooks/twilio", tags=["webhooks"])

SignedForm = Annotated[dict[str, str], Depends(signed_form)]


def _twiml(document: str) -> Response:
    return Response(content=document, media_type="application/xml")


def _missing(exc: service.MissingField) -> HTTPException:
    return HTTPException(status_code=400, detail=f"form field {exc.field} is required")


@router.post("/voice")
async def outbound_answered(
    form: SignedForm,
    flow: Annotated[str, Query(description="The flow to run, e.g. f1_tracing.")],
    contact: Annotated[int | None, Query(description="The contact being called.")] = None,
    attempt: Annotated[int | None, Query(description="The campaign attempt.")] = None,
) -> Response:
    """An outbound call was answered: the first TwiML of its flow."""
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


@router.post("/gather")
async def caller_answered(
    form: SignedForm,
    step: Annotated[int | None, Query(description="The step the question belonged to.")] = None,
) -> Response:
    """The caller answered a question (keys, speech, recording or transfer result)."""
    try:
        document = await in_webhook_transaction(
            lambda database: service.take_step(db_session=database, form=form, step=step)
        )
        return _twiml(document)
    except service.MissingField as exc:
        raise _missing(exc) from None


@router.post("/hotline")
async def hotline_called(
    form: SignedForm,
    flow: Annotated[str, Query(description="The inbound flow.")] = service.HOTLINE_FLOW,
) -> Response:
    """Someone called the hotline: greet them and open the menu."""
    try:
        document = await in_webhook_transaction(
            lambda database: service.answer_call(
                db_session=database, form=form, direction=CallDirection.inbound, flow_name=flow
            )
        )
        return _twiml(document)
    except service.MissingField as exc:
        raise _missing(exc) from None


@router.post("/hotline/status", status_code=204)
async def hotline_call_status(form: SignedForm) -> Response:
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
