"""Sending an SMS to a duty number: one small function behind a protocol.

The telephony layer plugs in by providing a module `robocall.telephony.sms` with a function
`send_sms(*, to: str, body: str) -> str` (returning the provider's message id); it is used as
soon as it exists. Until then, and in tests, messages go to the development outbox: a Redis
list that `robocall reports outbox` and the tests read. A sender raises on failure; the job
that calls it is retried until the message is sent.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import uuid
from typing import Protocol

from robocall.db import utcnow
from robocall.workers.connection import get_redis

PROVIDER_MODULE = "robocall.telephony.sms"
OUTBOX_KEY = "robocall:sms_outbox"


class SmsSender(Protocol):
    def __call__(self, *, to: str, body: str) -> str:
        """Send `body` to the E.164 phone `to`; return the provider's message id."""
        ...


def outbox_sender(*, to: str, body: str) -> str:
    """The development outbox: keep the message in Redis instead of sending it."""
    message_id = f"outbox-{uuid.uuid4().hex[:16]}"
    record = {"id": message_id, "to": to, "body": body, "at": utcnow().isoformat()}
    get_redis().rpush(OUTBOX_KEY, json.dumps(record, ensure_ascii=False))
    return message_id


def outbox_messages() -> list[dict[str, str]]:
    """Every message in the development outbox, oldest first."""
    return [json.loads(raw) for raw in get_redis().lrange(OUTBOX_KEY, 0, -1)]


_override: SmsSender | None = None


def set_sms_sender(sender: SmsSender | None) -> None:
    """Use `sender` in this process (None: back to the provider module or the outbox)."""
    global _override
    _override = sender


def current_sender() -> SmsSender:
    """The sender in use: an override, the telephony provider's, or the outbox."""
    if _override is not None:
        return _override
    try:
        module = importlib.import_module(PROVIDER_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != PROVIDER_MODULE:
            raise
        return outbox_sender
    sender: SmsSender = module.send_sms
    return sender


def send_sms(to: str, body: str) -> str:
    """Send one SMS now (called from jobs, never while answering a webhook)."""
    return current_sender()(to=to, body=body)


class SentLookup(Protocol):
    def __call__(self, *, to: str, body: str, since: dt.datetime) -> str | None:
        """The message id of an SMS with `body` sent to `to` since `since`, or None."""
        ...


def outbox_lookup(*, to: str, body: str, since: dt.datetime) -> str | None:
    """The development outbox's answer: the message if it is there."""
    for record in outbox_messages():
        at = dt.datetime.fromisoformat(record["at"])
        if record["to"] == to and record["body"] == body and at >= since:
            return record["id"]
    return None


_lookup_override: SentLookup | None = None


def set_sent_lookup(lookup: SentLookup | None) -> None:
    """Ask `lookup` whether an alert went (None: the development outbox)."""
    global _lookup_override
    _lookup_override = lookup


def sent_since(to: str, body: str, since: dt.datetime) -> str | None:
    """Whether an SMS went out after all (a worker died while sending it): its id, or None."""
    return (_lookup_override or outbox_lookup)(to=to, body=body, since=since)
