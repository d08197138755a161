"""Provider webhooks of IVR calls: the answer of an outbound call, each step, the hotline.

Every endpoint takes the signed form (`signed_form`), reads and writes only the call's
session row and its answers, and answers with the provider's document (its dialect renders
the flow's call script) from the database state. The end of a
call comes with its status, to `robocall.telephony.routes.call_status_webhook`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from sqlalchemy.orm import Session

from robocall.http.deps import db_session
from robocall.ivr import service
from robocall.telephony.base import CallDirection
from robocall.telephony.dialect import call_dialect
from robocall.telephony.voice import CallerTurn, MissingCallField
from robocall.telephony.webhook_auth import SignedForm, query_int

# Under the provider's webhook prefix (see `robocall.web.webhooks`).
router = APIRouter()

# The request's transaction, committed before the answer is sent.
Database = Annotated[Session, Depends(db_session, scope="function")]


def _document(document: str) -> Response:
    return Response(content=document, media_type=call_dialect().media_type)


def _turn(form: Mapping[str, str]) -> CallerTurn:
    try:
        return call_dialect().turn(form)
    except MissingCallField as exc:
        raise HTTPException(status_code=400, detail=f"form field {exc.field} is required") from None


def _missing(exc: service.MissingField) -> HTTPException:
    return HTTPException(status_code=400, detail=f"{exc.field} is required")


@router.post("/gather")
def caller_answered(request: Request, form: SignedForm, session: Database) -> Response:
    """The caller answered a question (keys, speech, recording or transfer result).

    Query: `step`, the step the question belonged to.
    """
    step = query_int(request, "step")
    try:
        return _document(service.take_step(db_session=session, turn=_turn(form), step=step))
    except service.MissingField as exc:
        raise _missing(exc) from None


@router.post("/voice")
def outbound_answered(request: Request, form: SignedForm, session: Database) -> Response:
    """An outbound call was answered: the first question of its flow.

    Query: `flow` (the flow to run, e.g. f1_tracing), `contact` (the contact being called),
    `attempt` (the campaign attempt).
    """
    flow = request.query_params.get("flow")
    if not flow:
        raise HTTPException(status_code=422, detail="query parameter flow is required")
    contact, attempt = query_int(request, "contact"), query_int(request, "attempt")
    try:
        document = service.answer_call(
            db_session=session,
            turn=_turn(form),
            direction=CallDirection.outbound,
            flow_name=flow,
            contact_id=contact,
            attempt_id=attempt,
        )
    except service.MissingField as exc:
        raise _missing(exc) from None
    return _document(document)


@router.post("/hotline")
def hotline_called(request: Request, form: SignedForm, session: Database) -> Response:
    """Someone called the hotline: greet them and open the menu (query `flow`: another
    inbound flow)."""
    flow = request.query_params.get("flow") or service.HOTLINE_FLOW
    try:
        document = service.answer_call(
            db_session=session, turn=_turn(form), direction=CallDirection.inbound, flow_name=flow
        )
    except service.MissingField as exc:
        raise _missing(exc) from None
    return _document(document)
