"""Placing calls and sending SMS, and recording what the provider says happened to them.

Callbacks are idempotent and monotonic: the same callback twice is stored once, and a status
only moves forward (a late `ringing` never overwrites `completed`). Other domains learn about
changes through listeners registered with `on_call_event` / `on_message_event` /
`on_inbound_sms`; a listener runs inside the webhook's transaction and must be quick (queue
slow work with `enqueue_after_commit`).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast
from urllib.parse import urlencode

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from robocall.config import get_settings
from robocall.db import utcnow
from robocall.kit.masking import mask_phone
from robocall.kit.text import nfc
from robocall.telephony.base import (
    AnsweredBy,
    CallDirection,
    CallEventData,
    CallEventKind,
    CallStatus,
    MessageEventData,
    MessageStatus,
    ProviderCall,
    TelephonyProvider,
)
from robocall.telephony.messages import Message, MessageDirection, SmsEncoding
from robocall.telephony.models import Call, CallEvent
from robocall.telephony.provider import get_provider
from robocall.telephony.segments import sms_encoding, sms_segments
from robocall.telephony.signature import public_url_for

log = logging.getLogger(__name__)

WEBHOOKS = "/webhooks/twilio"
VOICE_PATH = f"{WEBHOOKS}/voice"  # the answer URL of outbound calls (TwiML)
HOTLINE_PATH = f"{WEBHOOKS}/hotline"  # the voice URL of the hotline number (TwiML)
STATUS_PATH = f"{WEBHOOKS}/status"
AMD_PATH = f"{WEBHOOKS}/amd"
RECORDING_PATH = f"{WEBHOOKS}/recording"
SMS_STATUS_PATH = f"{WEBHOOKS}/sms-status"
INBOUND_SMS_PATH = f"{WEBHOOKS}/sms"

CallListener = Callable[[Session, Call, CallEventData], None]
MessageListener = Callable[[Session, Message, MessageEventData], None]

_call_listeners: list[CallListener] = []
_message_listeners: list[MessageListener] = []
_inbound_sms_listeners: list[MessageListener] = []


def on_call_event(listener: CallListener) -> CallListener:
    """Call `listener(db_session, call, event)` whenever a callback moves a call forward."""
    if listener not in _call_listeners:
        _call_listeners.append(listener)
    return listener


def on_message_event(listener: MessageListener) -> MessageListener:
    """Call `listener(db_session, message, event)` whenever an SMS status moves forward."""
    if listener not in _message_listeners:
        _message_listeners.append(listener)
    return listener


def on_inbound_sms(listener: MessageListener) -> MessageListener:
    """Call `listener(db_session, message, event)` for each new SMS a resident sends."""
    if listener not in _inbound_sms_listeners:
        _inbound_sms_listeners.append(listener)
    return listener


# The provider's clock and ours may differ this much when looking for what it sent.
SMS_CLOCK_SKEW = dt.timedelta(seconds=60)


def webhook_url(path: str, query: Mapping[str, str] | None = None) -> str:
    """The public URL of one of robocall's webhooks, as the provider must call it."""
    return public_url_for(get_settings().public_url, path, urlencode(query or {}))


# --- placing calls and sending SMS ---------------------------------------------------------


class TooLate(Exception):
    """The moment by which the provider was to be asked had passed; nothing was asked."""


def _check_in_time(ask_by: float | None) -> None:
    """Raise TooLate if the monotonic clock is past `ask_by` (a rate slot's last moment)."""
    if ask_by is not None and time.monotonic() > ask_by:
        raise TooLate


def place_call(
    *,
    db_session: Session,
    to: str,
    answer_url: str | None = None,
    machine_detection: bool = True,
    ring_timeout_seconds: int = 30,
    caller_id: str | None = None,
    provider: TelephonyProvider | None = None,
    ask_by: float | None = None,
) -> Call:
    """Dial `to` through the provider and record the call (raises ProviderError subclasses,
    or TooLate, having asked nothing, if the monotonic time `ask_by` has passed)."""
    settings = get_settings()
    caller = caller_id or settings.caller_id
    asked_at = utcnow()  # the call's created_at: when the provider was asked, as it counts
    _check_in_time(ask_by)  # after the stamp: a call stamped in time is asked in time
    placed = (provider or get_provider()).place_call(
        to=to,
        caller_id=caller,
        answer_url=answer_url or webhook_url(VOICE_PATH),
        status_url=webhook_url(STATUS_PATH),
        machine_detection=machine_detection,
        amd_url=webhook_url(AMD_PATH) if machine_detection else None,
        ring_timeout_seconds=ring_timeout_seconds,
    )
    call = _lock_call(
        db_session,
        sid=placed.sid,
        direction=CallDirection.outbound,
        to=placed.to or to,
        from_=placed.from_ or caller,
        status=placed.status,
        created_at=asked_at,
        likely_new=True,
    )
    if call.created_at > asked_at:  # a callback about it came first and created the row
        call.created_at = asked_at
    log.info("call %s placed to %s", call.sid, mask_phone(to))
    return call


def hang_up(*, call_sid: str, provider: TelephonyProvider | None = None) -> CallStatus:
    """Ask the provider to end a call; its final status arrives by callback."""
    return (provider or get_provider()).hang_up(call_sid=call_sid).status


def send_sms(
    *,
    db_session: Session,
    to: str,
    body: str,
    sender: str | None = None,
    provider: TelephonyProvider | None = None,
    ask_by: float | None = None,
    key: str | None = None,
) -> Message:
    """Send an SMS through the provider and record it (raises ProviderError subclasses, or
    TooLate, having sent nothing, if the monotonic time `ask_by` has passed). `key` names
    what it is for (e.g. `target-12`), carried in its status-callback URL."""
    settings = get_settings()
    text = nfc(body)
    from_ = sender or settings.sms_sender or settings.caller_id
    _check_in_time(ask_by)
    status_url = webhook_url(SMS_STATUS_PATH, {"key": key} if key else None)
    sent = (provider or get_provider()).send_sms(
        to=to, body=text, status_url=status_url, sender=from_
    )
    # Its first status callback may have arrived (and created the row) before this answer.
    _insert_ignoring_duplicates(
        db_session,
        Message,
        {
            "sid": sent.sid,
            "direction": MessageDirection.outbound,
            "to_number": sent.to or to,
            "from_number": sent.from_ or from_,
            "body": text,
            "status": sent.status,
            "segments": sent.segments or sms_segments(text),
            "encoding": SmsEncoding(sms_encoding(text)),
            "error_code": sent.error_code,
            "created_at": utcnow(),
            "updated_at": utcnow(),
        },
        conflict_on="sid",
    )
    message = _lock_message(db_session, sent.sid)
    if not message.body:
        message.body = text
        message.encoding = SmsEncoding(sms_encoding(text))
        message.segments = sent.segments or sms_segments(text)
    message.to_number = message.to_number or sent.to or to
    message.from_number = message.from_number or sent.from_ or from_
    db_session.flush()
    log.info("SMS %s sent to %s", message.sid, mask_phone(to))
    return message


def sent_sms_since(
    *, to: str, body: str | None, since: dt.datetime, provider: TelephonyProvider | None = None
) -> str | None:
    """The provider's id of an SMS (with this text, when given) to `to` created since
    `since`, if it sent one (a worker died after asking): how to know, before sending again,
    that it went."""
    text = nfc(body) if body is not None else None
    for message in (provider or get_provider()).recent_messages_to(
        to=to, since=since - SMS_CLOCK_SKEW
    ):
        if text is None or nfc(message.body or "") == text:
            return message.sid
    return None


def recent_calls_to(
    *, to: str, since: dt.datetime, provider: TelephonyProvider | None = None
) -> list[ProviderCall]:
    """The provider's calls to `to` since `since`, newest first (after ProviderUncertain)."""
    return (provider or get_provider()).recent_calls_to(to=to, since=since)


def refresh_call(
    *, db_session: Session, call_sid: str, provider: TelephonyProvider | None = None
) -> Call:
    """Bring a call up to date from the provider, for when its callbacks were lost."""
    current = (provider or get_provider()).fetch_call(call_sid=call_sid)
    event = CallEventData(
        call_sid=current.sid,
        kind=CallEventKind.status,
        status=current.status,
        answered_by=current.answered_by,
        direction=current.direction,
        to=current.to,
        from_=current.from_,
        duration_seconds=current.duration_seconds,
        occurred_at=current.ended_at or current.started_at,
        fields={"CallSid": current.sid, "Source": "fetched from the provider"},
    )
    return record_call_event(db_session=db_session, event=event).call


# --- call callbacks ------------------------------------------------------------------------


@dataclass(frozen=True)
class CallEventOutcome:
    call: Call
    stored: bool  # False: the same callback arrived before
    applied: bool  # True: the call moved forward


def record_call_event(*, db_session: Session, event: CallEventData) -> CallEventOutcome:
    """Store a call callback once and move the call forward if it is news."""
    if not event.call_sid:
        raise ValueError("callback without CallSid")
    call = _lock_call(
        db_session,
        sid=event.call_sid,
        direction=event.direction or CallDirection.outbound,
        to=event.to or "",
        from_=event.from_ or "",
        status=CallStatus.queued,
    )
    changes = _changes(call, event)
    event_id = _insert_ignoring_duplicates(
        db_session,
        CallEvent,
        {
            "call_id": call.id,
            "dedup_key": _dedup_key(event),
            "kind": event.kind,
            "status": event.status,
            "answered_by": event.answered_by,
            "sequence_number": event.sequence_number,
            "occurred_at": event.occurred_at,
            "received_at": utcnow(),
            "applied": bool(changes),
            "fields": dict(event.fields),
        },
        conflict_on="dedup_key",
    )
    if event_id is None:
        return CallEventOutcome(call=call, stored=False, applied=False)
    if event.sequence_number is not None:
        call.last_sequence_number = max(call.last_sequence_number or 0, event.sequence_number)
    for name, value in changes.items():
        setattr(call, name, value)
    db_session.flush()
    if changes:
        for listener in list(_call_listeners):
            listener(db_session, call, event)
    return CallEventOutcome(call=call, stored=True, applied=bool(changes))


def _changes(call: Call, event: CallEventData) -> dict[str, Any]:
    """What this callback changes on the call: nothing if it is old news."""
    changes: dict[str, Any] = {}
    now = event.occurred_at or utcnow()
    if event.kind is CallEventKind.status and event.status is not None:
        if event.status.rank > call.status.rank:
            changes["status"] = event.status
            if event.status is CallStatus.in_progress:
                changes["answered_at"] = now
            if event.status.is_final:
                changes["ended_at"] = now
                if event.duration_seconds is not None:
                    changes["duration_seconds"] = event.duration_seconds
                if event.error_code is not None:
                    changes["error_code"] = event.error_code
                if event.status is CallStatus.completed and call.answered_at is None:
                    # `in-progress` never came (or comes later): the talk time says when.
                    talk = dt.timedelta(seconds=event.duration_seconds or 0)
                    changes["answered_at"] = now - talk
        if event.answered_by is not None and call.answered_by is None:
            changes["answered_by"] = event.answered_by
    elif event.kind is CallEventKind.amd and event.answered_by is not None:
        # The detector's result is the answer; a status callback may have said `unknown`.
        if call.answered_by in (None, AnsweredBy.unknown) and call.answered_by != event.answered_by:
            changes["answered_by"] = event.answered_by
    if call.to_number == "" and event.to:
        changes["to_number"] = event.to
    if call.from_number == "" and event.from_:
        changes["from_number"] = event.from_
    return changes


def _dedup_key(event: CallEventData) -> str:
    what = (
        event.status
        or event.answered_by
        or event.recording_url
        or event.fields.get("RecordingSid")
        or ""
    )
    sequence = "" if event.sequence_number is None else str(event.sequence_number)
    return f"{event.call_sid}:{event.kind.value}:{sequence}:{what}"[:160]


def _lock_call(
    db_session: Session,
    *,
    sid: str,
    direction: CallDirection,
    to: str,
    from_: str,
    status: CallStatus,
    created_at: dt.datetime | None = None,
    likely_new: bool = False,
) -> Call:
    """The call row for `sid`, created if new, locked against concurrent callbacks.

    `likely_new`: the provider has just created the call, so insert without looking first.
    """
    if not likely_new:
        call = db_session.scalar(_SELECT_CALL_FOR_UPDATE, {"sid": sid})
        if call is not None:
            return call
    _insert_ignoring_duplicates(
        db_session,
        Call,
        {
            "sid": sid,
            "direction": direction,
            "to_number": to,
            "from_number": from_,
            "status": status,
            "created_at": created_at or utcnow(),
            "updated_at": utcnow(),
        },
        conflict_on="sid",
    )
    # Ours, or another callback's of the same call that got there first.
    call = db_session.scalar(_SELECT_CALL_FOR_UPDATE, {"sid": sid})
    assert call is not None
    return call


_SELECT_CALL_FOR_UPDATE = (
    select(Call)
    .where(Call.sid == bindparam("sid"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


def _insert_ignoring_duplicates(
    db_session: Session, model: type[Any], values: dict[str, Any], *, conflict_on: str
) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING; the new row's id, or None if it existed."""
    statement = _insert_or_nothing(
        db_session.get_bind().dialect.name, model.__table__, conflict_on, tuple(values)
    )
    result: int | None = db_session.execute(statement, values).scalar()
    return result


@lru_cache(maxsize=32)
def _insert_or_nothing(
    dialect: str, table: Table, conflict_on: str, columns: tuple[str, ...]
) -> Executable:
    """The statement for `_insert_ignoring_duplicates`, built once (callbacks arrive by the
    hundred a second during a campaign)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement: Any = pg_insert(table)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(table)
    return cast(
        Executable,
        statement.values({name: bindparam(name) for name in columns})
        .on_conflict_do_nothing(index_elements=[conflict_on])
        .returning(table.c.id),
    )


# --- SMS callbacks -------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageEventOutcome:
    message: Message
    applied: bool  # True: the status moved forward (or the inbound SMS is new)


def record_message_event(*, db_session: Session, event: MessageEventData) -> MessageEventOutcome:
    """Move an SMS's status forward; a repeated or late status changes nothing."""
    if not event.message_sid:
        raise ValueError("callback without MessageSid")
    body = nfc(event.body or "")
    _insert_ignoring_duplicates(
        db_session,
        Message,
        {
            "sid": event.message_sid,
            "direction": MessageDirection.outbound,
            "to_number": event.to or "",
            "from_number": event.from_ or "",
            "body": body,
            "status": MessageStatus.accepted,
            "segments": event.segments or 1,
            "encoding": SmsEncoding(sms_encoding(body)),
            "created_at": utcnow(),
            "updated_at": utcnow(),
        },
        conflict_on="sid",
    )
    message = _lock_message(db_session, event.message_sid)
    if event.status.rank <= message.status.rank:
        return MessageEventOutcome(message=message, applied=False)
    now = utcnow()
    message.status = event.status
    if event.status is MessageStatus.sent and message.sent_at is None:
        message.sent_at = now
    if event.status is MessageStatus.delivered:
        message.delivered_at = now
        message.sent_at = message.sent_at or now
    if event.error_code is not None:
        message.error_code = event.error_code
    if event.segments:
        message.segments = event.segments
    db_session.flush()
    for listener in list(_message_listeners):
        listener(db_session, message, event)
    return MessageEventOutcome(message=message, applied=True)


def _lock_message(db_session: Session, sid: str) -> Message:
    """The SMS row for `sid`, locked against concurrent callbacks."""
    message = db_session.scalar(
        select(Message)
        .where(Message.sid == sid)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert message is not None
    return message


def record_inbound_sms(*, db_session: Session, event: MessageEventData) -> MessageEventOutcome:
    """Store an SMS a resident sent, once however often the provider delivers it."""
    if not event.message_sid:
        raise ValueError("inbound SMS without MessageSid")
    body = nfc(event.body or "")
    new_id = _insert_ignoring_duplicates(
        db_session,
        Message,
        {
            "sid": event.message_sid,
            "direction": MessageDirection.inbound,
            "to_number": event.to or "",
            "from_number": event.from_ or "",
            "body": body,
            "status": MessageStatus.received,
            "segments": event.segments or sms_segments(body),
            "encoding": SmsEncoding(sms_encoding(body)),
            "created_at": utcnow(),
            "updated_at": utcnow(),
        },
        conflict_on="sid",
    )
    message = db_session.scalar(select(Message).where(Message.sid == event.message_sid))
    assert message is not None
    if new_id is not None:
        log.info("SMS %s received from %s", message.sid, mask_phone(message.from_number))
        for listener in list(_inbound_sms_listeners):
            listener(db_session, message, event)
    return MessageEventOutcome(message=message, applied=new_id is not None)


def get_call(*, db_session: Session, call_sid: str) -> Call | None:
    """The call with this provider sid, if robocall knows it."""
    return db_session.scalar(select(Call).where(Call.sid == call_sid))


def get_message(*, db_session: Session, message_sid: str) -> Message | None:
    """The SMS with this provider sid, if robocall knows it."""
    return db_session.scalar(select(Message).where(Message.sid == message_sid))
