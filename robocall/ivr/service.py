"""Call sessions: answer a call, take each step, end it; perform what the engine asked for.

Everything here runs inside the webhook's transaction and touches only the database; SMS
and alerts are jobs queued after the commit. No provider is called while answering.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rq import Retry
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from robocall.config import get_settings
from robocall.db import utcnow
from robocall.hotline.models import ReportChannel
from robocall.hotline.service import ReportSource, duty_for_unit, file_report
from robocall.ivr import engine
from robocall.ivr.engine import CallInput, Effect, Situation, StepResult
from robocall.ivr.library import FlowNotAvailable, Library, get_library
from robocall.ivr.models import CallAnswer, CallSession, CallSessionStatus
from robocall.kit.masking import mask_phone
from robocall.telephony.base import CallDirection
from robocall.telephony.dialect import call_dialect
from robocall.telephony.service import WEBHOOKS
from robocall.telephony.voice import CallerTurn, goodbye
from robocall.workers.queues import enqueue_after_commit

log = logging.getLogger(__name__)

GATHER_PATH = WEBHOOKS + "/gather"
HOTLINE_FLOW = "hotline"
# Provider call statuses that mean the call is over.


@dataclass(frozen=True)
class ContactMatch:
    """What the contacts domain knows about the person on the line."""

    contact_id: int | None
    unit_id: int | None = None
    # Fields the flows may speak: name, household_names, monitoring_day, monitoring_days,
    # isolation_end_date, language ("vi" or "en") …
    context: dict[str, Any] = field(default_factory=dict)


# How the contacts domain plugs in: find a contact by phone (inbound) or by id (outbound).
ContactByPhone = Callable[[Session, str], ContactMatch | None]
ContactById = Callable[[Session, int], ContactMatch | None]
EffectHandler = Callable[[Session, CallSession, Effect], None]

_contact_by_phone: ContactByPhone | None = None
_contact_by_id: ContactById | None = None
_effect_handlers: dict[str, list[EffectHandler]] = {}


def set_contact_lookups(*, by_phone: ContactByPhone | None, by_id: ContactById | None) -> None:
    """Let the contacts domain tell who is on the line (None: nobody is known)."""
    global _contact_by_phone, _contact_by_id
    _contact_by_phone, _contact_by_id = by_phone, by_id


def register_effect_handler(kind: str, handler: EffectHandler) -> None:
    """Run `handler` for each effect of `kind`, in the webhook's transaction.

    opt_out and mark_wrong_number belong to the contacts and campaigns domains, send_sms to
    the SMS domain: a registered handler replaces the built-in fallback (log / outbox job).
    Reports and escalation are always recorded here; handlers for them run in addition.
    """
    if kind not in engine.EFFECT_KINDS:
        raise ValueError(f"unknown effect {kind!r}")
    _effect_handlers.setdefault(kind, []).append(handler)


def clear_effect_handlers(kind: str) -> None:
    """Forget the handlers registered for `kind`."""
    _effect_handlers.pop(kind, None)


class MissingField(ValueError):
    """A webhook post lacks a field the provider always sends."""

    def __init__(self, name: str) -> None:
        super().__init__(f"missing form field {name}")
        self.field = name


def read_call(*, db_session: Session, call_sid: str) -> CallSession | None:
    """The session of a call by the provider's CallSid, its row locked until the commit."""
    query = (
        select(CallSession)
        .where(CallSession.call_sid == call_sid)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return db_session.scalars(query).one_or_none()


def answer_call(
    *,
    db_session: Session,
    turn: CallerTurn,
    direction: CallDirection,
    flow_name: str,
    contact_id: int | None = None,
    attempt_id: int | None = None,
) -> str:
    """The provider's document for a call just answered: open its session (once) and run to
    the first question."""
    call_sid = turn.call_sid
    existing = read_call(db_session=db_session, call_sid=call_sid)
    library = get_library()
    if existing is not None:
        # The provider re-sent the answer webhook: say the same again.
        return existing.last_twiml or _ended(library)
    outbound = direction == CallDirection.outbound
    phone = turn.to_number if outbound else turn.from_number
    if not phone:
        raise MissingField("the called number" if outbound else "the caller's number")
    try:
        flow = library.flow(flow_name)
    except FlowNotAvailable as exc:
        log.error("call %s: %s", call_sid, exc)
        return _ended(library, "technical_problem")
    match = _who(db_session, direction, phone, contact_id)
    call = CallSession(
        call_sid=call_sid,
        direction=direction,
        flow_name=flow.name,
        flow_version=flow.version,
        phone=phone,
        contact_id=match.contact_id if match else contact_id,
        attempt_id=attempt_id,
        unit_id=match.unit_id if match else None,
        context=dict(match.context) if match else {},
        state={},
        status=CallSessionStatus.active,
    )
    try:
        # A savepoint: the same answer webhook delivered twice at once opens one session.
        with db_session.begin_nested():
            db_session.add(call)
    except IntegrityError:
        existing = read_call(db_session=db_session, call_sid=call_sid)
        return existing.last_twiml if existing is not None else _ended(library)
    language = str(call.context.get("language") or "vi")
    result = engine.start(
        flow, situation=_situation_for(db_session, call, library), language=language
    )
    return _store(db_session, call, result, library)


def take_step(*, db_session: Session, turn: CallerTurn, step: int | None) -> str:
    """The provider's document for the caller's answer to the question of step `step`."""
    call_sid = turn.call_sid
    library = get_library()
    call = read_call(db_session=db_session, call_sid=call_sid)
    if call is None:
        log.warning("step for unknown call %s", call_sid)
        return _ended(library, "technical_problem")
    if call.status == CallSessionStatus.finished:
        return call_dialect().render(goodbye())
    if step is not None and step != call.step:
        # A repeated or late post for a question already answered: replay the current one.
        return call.last_twiml
    try:
        flow = library.flow(call.flow_name)
    except FlowNotAvailable as exc:
        log.error("call %s: %s", call_sid, exc)
        _write_call(
            call,
            status=CallSessionStatus.finished,
            outcome="technical_problem",
            ended_at=utcnow(),
        )
        return _ended(library, "technical_problem")
    given = CallInput(
        digits=turn.digits,
        speech=turn.speech,
        confidence=turn.confidence,
        recording_url=turn.recording_url,
        recording_seconds=turn.recording_seconds,
        dial_status=turn.transfer_status,
    )
    situation = _situation_for(db_session, call, library)
    result = engine.advance(flow, call.state, given, situation=situation)
    return _store(db_session, call, result, library)


def end_call(*, db_session: Session, call_sid: str) -> None:
    """The call is over: keep its answers, report what a caller left midway."""
    call = read_call(db_session=db_session, call_sid=call_sid)
    if call is None or call.status == CallSessionStatus.finished:
        return
    library = get_library()
    flow = library.flows.get(call.flow_name)
    now = utcnow()
    if flow is None:
        _write_call(
            call,
            status=CallSessionStatus.finished,
            outcome=call.outcome or "hung_up",
            ended_at=now,
        )
        return
    state, effects = engine.hang_up(flow, call.state)
    _write_call(
        call,
        state=state,
        outcome=state.get("outcome") or "hung_up",
        status=CallSessionStatus.finished,
        ended_at=now,
    )
    _apply_effects(db_session, call, effects, library)


def _situation_for(db_session: Session, call: CallSession, library: Library) -> Situation:
    settings = get_settings()
    return Situation(
        context=dict(call.context or {}),
        now=utcnow(),
        action_url=settings.public_url.rstrip("/") + GATHER_PATH,
        faq=library.faq,
        zone=settings.timezone,
        caller_phone=call.phone,
        duty_lookup=lambda: (
            duty_for_unit(db_session=db_session, unit_id=call.unit_id, roster=library.duty).transfer
        ),
        caller_id=(
            settings.hotline_number
            if call.direction == CallDirection.inbound
            else settings.caller_id
        ),
    )


def _who(
    db_session: Session, direction: CallDirection, phone: str, contact_id: int | None
) -> ContactMatch | None:
    if contact_id is not None and _contact_by_id is not None:
        return _contact_by_id(db_session, contact_id)
    if direction == CallDirection.inbound and phone and _contact_by_phone is not None:
        return _contact_by_phone(db_session, phone)
    return None


def _write_call(call: CallSession, **changes: Any) -> None:
    """Change the call's session (written at the next flush, in one UPDATE)."""
    for name, value in changes.items():
        setattr(call, name, value)


def _store(db_session: Session, call: CallSession, result: StepResult, library: Library) -> str:
    """Write the step: the session row, its answers, then what the engine asked for; the
    provider's document for it (kept to answer a repeated post the same way)."""
    now = utcnow()
    document = call_dialect().render(result.script)
    changes: dict[str, Any] = {
        "state": result.state,
        "step": int(result.state.get("step", 0)),
        "last_twiml": document,
        "outcome": result.state.get("outcome") or call.outcome,
    }
    if result.finished:
        changes.update(status=CallSessionStatus.finished, ended_at=now)
    _write_call(call, **changes)
    db_session.add_all(
        CallAnswer(
            call_session_id=call.id,
            node=answer.node,
            question=answer.question,
            key=answer.key,
            speech=answer.speech,
            value=answer.value,
            answered_at=now,
        )
        for answer in result.answers
    )
    _apply_effects(db_session, call, result.effects, library)
    return document


def _source(call: CallSession) -> ReportSource:
    channel = (
        ReportChannel.hotline
        if call.direction == CallDirection.inbound
        else ReportChannel.outbound_call
    )
    name = call.context.get("name") if call.context else None
    return ReportSource(
        channel=channel,
        phone=call.phone,
        contact_id=call.contact_id,
        unit_id=call.unit_id,
        call_session_id=call.id,
        name=str(name) if name else None,
    )


def _apply_effects(
    db_session: Session, call: CallSession, effects: list[Effect], library: Library
) -> None:
    for effect in effects:
        if effect.kind in ("create_report", "escalate"):
            # The escalate effect carries the answers so far with `urgent` set: the report
            # is created (or updated) urgent, and the duty alerts are queued once.
            file_report(
                db_session=db_session, source=_source(call), data=effect.data, roster=library.duty
            )
        handlers = _effect_handlers.get(effect.kind, [])
        if handlers:
            for handler in handlers:
                handler(db_session, call, effect)
            continue
        # Until the SMS and contacts domains register their handlers:
        if effect.kind == "send_sms" and effect.data.get("to") and effect.data.get("body"):
            from robocall.hotline.tasks import send_resident_sms

            enqueue_after_commit(
                db_session,
                send_resident_sms,
                effect.data["to"],
                effect.data["body"],
                queue="sms",
                rq_options={"retry": Retry(max=5, interval=[10, 30, 60, 300, 900])},
            )
        elif effect.kind in ("opt_out", "mark_wrong_number"):
            # Kept on the call session (outcome) for the campaign to read.
            log.info("call %s: %s for %s", call.id, effect.kind, mask_phone(call.phone))


def _ended(library: Library, message: str = "goodbye") -> str:
    text = library.conventions.get(message)
    script = goodbye(text.vi if text else None, voice="Google.vi-VN-Standard-A", language="vi-VN")
    return call_dialect().render(script)
