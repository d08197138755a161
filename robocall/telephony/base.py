"""What a telephony provider must do, and robocall's own words for calls and messages.

A provider (Twilio, or the simulator through the same Twilio adapter) places and hangs up
calls, sends SMS, and posts callbacks. Everything outside `robocall/telephony/` sees only the
types in this module: statuses are robocall's words, not the provider's spelling.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


class CallStatus(enum.StrEnum):
    queued = "queued"
    initiated = "initiated"
    ringing = "ringing"
    in_progress = "in_progress"
    completed = "completed"
    busy = "busy"
    no_answer = "no_answer"
    failed = "failed"
    canceled = "canceled"

    @property
    def rank(self) -> int:
        """How far along a call is; a status only ever moves to a higher rank."""
        return _CALL_RANK[self]

    @property
    def is_final(self) -> bool:
        return self.rank == _FINAL_RANK


_FINAL_RANK = 4
_CALL_RANK = {
    CallStatus.queued: 0,
    CallStatus.initiated: 1,
    CallStatus.ringing: 2,
    CallStatus.in_progress: 3,
    CallStatus.completed: _FINAL_RANK,
    CallStatus.busy: _FINAL_RANK,
    CallStatus.no_answer: _FINAL_RANK,
    CallStatus.failed: _FINAL_RANK,
    CallStatus.canceled: _FINAL_RANK,
}


class AnsweredBy(enum.StrEnum):
    human = "human"
    machine = "machine"
    unknown = "unknown"


class CallDirection(enum.StrEnum):
    outbound = "outbound"
    inbound = "inbound"


class MessageStatus(enum.StrEnum):
    accepted = "accepted"
    queued = "queued"
    sending = "sending"
    sent = "sent"
    delivered = "delivered"
    undelivered = "undelivered"
    failed = "failed"
    canceled = "canceled"
    received = "received"

    @property
    def rank(self) -> int:
        """How far along a message is; a status only ever moves to a higher rank."""
        return _MESSAGE_RANK[self]

    @property
    def is_final(self) -> bool:
        return self.rank >= 4


_MESSAGE_RANK = {
    MessageStatus.accepted: 0,
    MessageStatus.queued: 1,
    MessageStatus.sending: 2,
    MessageStatus.sent: 3,
    MessageStatus.delivered: 4,
    MessageStatus.undelivered: 4,
    MessageStatus.failed: 4,
    MessageStatus.canceled: 4,
    MessageStatus.received: 4,
}


class CallEventKind(enum.StrEnum):
    status = "status"  # call progress: initiated, ringing, answered, completed
    amd = "amd"  # answering-machine detection result
    recording = "recording"  # a recording is ready


# Provider error codes robocall acts on (Twilio's numbering).
ERROR_TOO_MANY_REQUESTS = 20429
ERROR_INVALID_NUMBER = 21211
ERROR_GEO_PERMISSION = 21215  # the account may not call this country or number range
ERROR_NOT_PERMITTED = 21408  # the account may not message this region
ERROR_UNSUBSCRIBED = 21610  # the resident replied STOP
ERROR_NOT_SMS_CAPABLE = 21614
PERMANENT_ERRORS = frozenset(
    {
        ERROR_INVALID_NUMBER,
        ERROR_GEO_PERMISSION,
        ERROR_NOT_PERMITTED,
        ERROR_UNSUBSCRIBED,
        ERROR_NOT_SMS_CAPABLE,
    }
)


class ProviderError(Exception):
    """The provider refused or failed a request."""

    def __init__(self, message: str, *, code: int | None = None, http_status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status


class ProviderUnavailable(ProviderError):
    """Busy (429) or failing (5xx, no answer) even after retries: try later.

    Nobody was dialled or messaged, so this is not a contact attempt.
    """


class ProviderRejected(ProviderError):
    """The provider refused this destination for good (invalid number, STOP, no permission).

    Retrying would give the same answer: the attempt fails with `code`.
    """


class ProviderUncertain(ProviderError):
    """The provider did not answer a create and could not be asked whether it happened.

    The resident may have been dialled: do not dial again before `recent_calls_to` says no.
    """


@dataclass(frozen=True)
class ProviderCall:
    """A call as the provider knows it."""

    sid: str
    to: str
    from_: str
    status: CallStatus
    direction: CallDirection
    answered_by: AnsweredBy | None = None
    duration_seconds: int | None = None
    created_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None


@dataclass(frozen=True)
class ProviderMessage:
    """An SMS as the provider knows it."""

    sid: str
    to: str
    from_: str
    body: str
    status: MessageStatus
    segments: int | None = None
    error_code: int | None = None
    created_at: dt.datetime | None = None
    sent_at: dt.datetime | None = None


@dataclass(frozen=True)
class CallEventData:
    """One provider callback about a call, in robocall's words."""

    call_sid: str
    kind: CallEventKind
    status: CallStatus | None = None
    answered_by: AnsweredBy | None = None
    direction: CallDirection | None = None
    to: str | None = None
    from_: str | None = None
    duration_seconds: int | None = None
    sequence_number: int | None = None  # the provider's order of this call's status callbacks
    occurred_at: dt.datetime | None = None  # when the provider says it happened
    error_code: int | None = None
    recording_url: str | None = None
    recording_duration_seconds: int | None = None
    fields: Mapping[str, str] = field(default_factory=dict)  # everything the provider sent


@dataclass(frozen=True)
class MessageEventData:
    """One provider callback about an SMS (status, or an inbound message), in robocall's words."""

    message_sid: str
    status: MessageStatus
    to: str | None = None
    from_: str | None = None
    body: str | None = None
    segments: int | None = None
    error_code: int | None = None
    fields: Mapping[str, str] = field(default_factory=dict)


class TelephonyProvider(Protocol):
    """Everything robocall asks of a phone network."""

    def place_call(
        self,
        *,
        to: str,
        caller_id: str,
        answer_url: str,
        status_url: str,
        machine_detection: bool,
        amd_url: str | None,
        ring_timeout_seconds: int,
    ) -> ProviderCall:
        """Dial `to`; raise ProviderUnavailable (try later) or ProviderRejected (never)."""
        ...

    def hang_up(self, *, call_sid: str) -> ProviderCall:
        """End a call: cancel it if it has not been answered, else hang up."""
        ...

    def fetch_call(self, *, call_sid: str) -> ProviderCall:
        """The provider's current view of a call."""
        ...

    def recent_calls_to(self, *, to: str, since: dt.datetime) -> list[ProviderCall]:
        """Calls to `to` created at or after `since`, newest first."""
        ...

    def send_sms(
        self, *, to: str, body: str, status_url: str, sender: str | None
    ) -> ProviderMessage:
        """Send an SMS from `sender` (or the messaging service); errors as for place_call."""
        ...

    def fetch_message(self, *, message_sid: str) -> ProviderMessage:
        """The provider's current view of an SMS."""
        ...

    def recent_messages_to(self, *, to: str, since: dt.datetime) -> list[ProviderMessage]:
        """SMS to `to` created at or after `since`, newest first (after a crash: was it sent?)."""
        ...

    def verify_webhook(self, *, url: str, params: Mapping[str, str], signature: str | None) -> bool:
        """Whether a webhook request really comes from the provider."""
        ...

    def call_event(self, *, kind: CallEventKind, params: Mapping[str, str]) -> CallEventData:
        """A call callback's form fields in robocall's words."""
        ...

    def message_event(self, *, params: Mapping[str, str]) -> MessageEventData:
        """An SMS callback's (or inbound SMS's) form fields in robocall's words."""
        ...
