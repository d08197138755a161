"""The simulator's calls and messages, and their JSON as Twilio's 2010-04-01 API returns it."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import Any

import phonenumbers

from robocall.simulator.personas import Behaviour

API_VERSION = "2010-04-01"
FINAL_CALL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
FINAL_MESSAGE_STATUSES = frozenset({"delivered", "undelivered", "failed", "received", "canceled"})


def new_sid(prefix: str) -> str:
    """A Twilio-shaped sid: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


def rfc2822(value: dt.datetime | None) -> str | None:
    """Twilio's date format: `Mon, 23 Nov 2026 03:41:20 +0000`."""
    return None if value is None else format_datetime(value.astimezone(dt.UTC))


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SimulatorError(Exception):
    """An API error answered with Twilio's body: {code, message, more_info, status}."""

    def __init__(self, status: int, code: int, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


@dataclass
class SimCall:
    """One call on the simulated network."""

    sid: str
    account_sid: str
    to: str
    from_: str
    direction: str  # "outbound-api" or "inbound"
    url: str | None
    method: str
    twiml: str | None
    behaviour: Behaviour
    ring_timeout_seconds: int = 60
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: frozenset[str] = frozenset()
    machine_detection: str | None = None  # Enable | DetectMessageEnd
    async_amd: bool = False
    amd_callback: str | None = None
    amd_callback_method: str = "POST"
    status: str = "queued"
    answered_by: str | None = None
    date_created: dt.datetime = field(default_factory=now)
    date_updated: dt.datetime = field(default_factory=now)
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    duration_seconds: int | None = None
    sequence_number: int = 0  # of the next status callback
    gather_step: int = 0  # Gathers the resident has reached so far
    dialled_at: float | None = None  # event-loop time the network started dialling
    live: bool = False  # dialled and not yet ended (counted in the network's live calls)
    # Set by an API update: hang up, or fetch new TwiML from `redirect`.
    interrupt: asyncio.Event = field(default_factory=asyncio.Event)
    hangup_requested: bool = False
    redirect: tuple[str, str] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_CALL_STATUSES

    def to_json(self) -> dict[str, Any]:
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{self.sid}"
        subscriptions = f"{base}/UserDefinedMessageSubscriptions.json"
        return {
            "account_sid": self.account_sid,
            "answered_by": self.answered_by,
            "api_version": API_VERSION,
            "caller_name": None,
            "date_created": rfc2822(self.date_created),
            "date_updated": rfc2822(self.date_updated),
            "direction": self.direction,
            "duration": None if self.duration_seconds is None else str(self.duration_seconds),
            "end_time": rfc2822(self.end_time),
            "forwarded_from": None,
            "from": self.from_,
            "from_formatted": self.from_,
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": self.sid,
            "start_time": rfc2822(self.start_time),
            # The resource never says `initiated`; only the callbacks do.
            "status": self.status,
            "subresource_uris": {
                "notifications": f"{base}/Notifications.json",
                "recordings": f"{base}/Recordings.json",
                "payments": f"{base}/Payments.json",
                "events": f"{base}/Events.json",
                "siprec": f"{base}/Siprec.json",
                "streams": f"{base}/Streams.json",
                "transcriptions": f"{base}/Transcriptions.json",
                "user_defined_message_subscriptions": subscriptions,
                "user_defined_messages": f"{base}/UserDefinedMessages.json",
            },
            "to": self.to,
            "to_formatted": self.to,
            "trunk_sid": None,
            "uri": f"{base}.json",
        }


@dataclass
class SimMessage:
    """One SMS on the simulated network."""

    sid: str
    account_sid: str
    to: str
    from_: str | None
    body: str
    direction: str  # "outbound-api" or "inbound"
    segments: int
    messaging_service_sid: str | None = None
    status_callback: str | None = None
    status: str = "queued"
    error_code: int | None = None
    error_message: str | None = None
    date_created: dt.datetime = field(default_factory=now)
    date_updated: dt.datetime = field(default_factory=now)
    date_sent: dt.datetime | None = None

    def to_json(self) -> dict[str, Any]:
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": rfc2822(self.date_created),
            "date_sent": rfc2822(self.date_sent),
            "date_updated": rfc2822(self.date_updated),
            "direction": self.direction,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": "0",
            "num_segments": str(self.segments),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {
                "media": f"{base}/Media.json",
                "feedback": f"{base}/Feedback.json",
            },
            "to": self.to,
            "uri": f"{base}.json",
        }


@dataclass
class NumberConfig:
    """Where the network sends calls and SMS to one of the account's own numbers."""

    voice_url: str | None = None
    sms_url: str | None = None
    status_callback: str | None = None


def country_of(number: str) -> str:
    """The ISO country of a phone number ("VN"), or "" if unknown."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number, None)) or ""
    except phonenumbers.NumberParseException:
        return ""


def required_text(form: Mapping[str, Any], name: str, code: int, message: str) -> str:
    """A required form field, or Twilio's error for its absence."""
    value = form.get(name)
    if not value or not isinstance(value, str):
        raise SimulatorError(400, code, message)
    return value
