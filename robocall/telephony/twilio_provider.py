"""The Twilio adapter: the only code that talks to Twilio (or the simulator) through the SDK."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from robocall.db import utcnow
from robocall.kit.masking import mask_phone
from robocall.telephony.base import (
    ERROR_TOO_MANY_REQUESTS,
    AnsweredBy,
    CallDirection,
    CallEventData,
    CallEventKind,
    CallStatus,
    MessageEventData,
    MessageStatus,
    ProviderCall,
    ProviderError,
    ProviderMessage,
    ProviderRejected,
    ProviderUnavailable,
    ProviderUncertain,
)
from robocall.telephony.signature import is_valid_signature

log = logging.getLogger(__name__)

T = TypeVar("T")

# The call progress events robocall asks for: answered (the call is live: in-progress counts and
# answered_at) and completed (the outcome, which frees the call's concurrency slot). Twilio's
# `initiated` and `ringing` would add two webhooks to every call and change nothing robocall
# does: the create response already says the provider has the call, and the final status says
# whether it rang out (no-answer) or never rang (failed, busy).
STATUS_CALLBACK_EVENTS = ["answered", "completed"]

# Twilio's clock and ours differ a little: a call created this long before we asked still
# counts as ours when looking it up after a timeout (seconds).
_CLOCK_SKEW = dt.timedelta(seconds=5)

_MESSAGE_STATUS = {
    "accepted": MessageStatus.accepted,
    "scheduled": MessageStatus.accepted,
    "queued": MessageStatus.queued,
    "sending": MessageStatus.sending,
    "sent": MessageStatus.sent,
    "delivered": MessageStatus.delivered,
    "read": MessageStatus.delivered,
    "partially_delivered": MessageStatus.delivered,
    "undelivered": MessageStatus.undelivered,
    "failed": MessageStatus.failed,
    "canceled": MessageStatus.canceled,
    "receiving": MessageStatus.received,
    "received": MessageStatus.received,
}


def call_status(word: str | None) -> CallStatus:
    """Twilio's call status ("in-progress", "no-answer") in robocall's words."""
    return CallStatus((word or "queued").replace("-", "_"))


def message_status(word: str | None) -> MessageStatus:
    """Twilio's message status in robocall's words."""
    try:
        return _MESSAGE_STATUS[word or "queued"]
    except KeyError:
        raise ValueError(f"unknown message status {word!r}") from None


def answered_by(word: str | None) -> AnsweredBy | None:
    """Twilio's AnsweredBy (human, machine_start, machine_end_beep, fax, ...) as a word."""
    if not word:
        return None
    if word == "human":
        return AnsweredBy.human
    if word.startswith("machine") or word == "fax":
        return AnsweredBy.machine
    return AnsweredBy.unknown


def call_direction(word: str | None) -> CallDirection:
    return CallDirection.inbound if word == "inbound" else CallDirection.outbound


def _int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _rfc2822(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


class TwilioProvider:
    """Twilio through its SDK; the simulator is the same with another API base URL."""

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        api_base_url: str | None = None,
        messaging_service_sid: str | None = None,
        request_timeout_seconds: float = 15.0,
        create_tries: int = 3,
        retry_backoff_seconds: float = 1.0,
    ) -> None:
        self._auth_token = auth_token
        self._messaging_service_sid = messaging_service_sid
        self._tries = max(1, create_tries)
        self._backoff = retry_backoff_seconds
        self.client = Client(
            account_sid,
            auth_token,
            http_client=TwilioHttpClient(timeout=request_timeout_seconds),
        )
        if api_base_url:
            # The simulator: the same API under another address. Never set edge/region for it.
            self.client.api.base_url = api_base_url.rstrip("/")

    # --- calls ------------------------------------------------------------------------------

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
        options: dict[str, Any] = {
            "to": to,
            "from_": caller_id,
            "url": answer_url,
            "method": "POST",
            "status_callback": status_url,
            "status_callback_event": STATUS_CALLBACK_EVENTS,
            "status_callback_method": "POST",
            "timeout": ring_timeout_seconds,
        }
        if machine_detection:
            options["machine_detection"] = "Enable"
            # Asynchronous: the resident hears the message at once, the result comes later.
            options["async_amd"] = "true"
            if amd_url:
                options["async_amd_status_callback"] = amd_url
                options["async_amd_status_callback_method"] = "POST"
        asked_at = utcnow()

        def already_placed() -> ProviderCall | None:
            for call in self._calls_to(to=to, since=asked_at - _CLOCK_SKEW):
                if call.from_ == caller_id and call.direction is CallDirection.outbound:
                    return call
            return None

        return self._create(
            what=f"call to {mask_phone(to)}",
            create=lambda: self._call(self.client.calls.create(**options)),
            already_done=already_placed,
        )

    def hang_up(self, *, call_sid: str) -> ProviderCall:
        """End a call: cancel it if it has not been answered, else hang up."""
        current = self.fetch_call(call_sid=call_sid)
        if current.status.is_final:
            return current
        word = "canceled" if current.status.rank < CallStatus.in_progress.rank else "completed"
        try:
            return self._call(
                self._request(lambda: self.client.calls(call_sid).update(status=word))
            )
        except ProviderRejected:
            # It ended between the fetch and the update.
            return self.fetch_call(call_sid=call_sid)

    def fetch_call(self, *, call_sid: str) -> ProviderCall:
        """The provider's current view of a call."""
        return self._call(self._request(lambda: self.client.calls(call_sid).fetch()))

    def recent_calls_to(self, *, to: str, since: dt.datetime) -> list[ProviderCall]:
        """Calls to `to` created at or after `since`, newest first."""
        return self._request(lambda: self._calls_to(to=to, since=since))

    def _calls_to(self, *, to: str, since: dt.datetime) -> list[ProviderCall]:
        # Filtering on StartTime would miss calls still queued (they have no start time yet).
        calls = [self._call(c) for c in self.client.calls.list(to=to, limit=50)]
        recent = [c for c in calls if c.created_at is None or c.created_at >= since]
        return sorted(recent, key=lambda c: c.created_at or since, reverse=True)

    # --- SMS --------------------------------------------------------------------------------

    def send_sms(
        self, *, to: str, body: str, status_url: str, sender: str | None
    ) -> ProviderMessage:
        """Send an SMS from `sender` (or the messaging service); errors as for place_call."""
        options: dict[str, Any] = {"to": to, "body": body, "status_callback": status_url}
        if self._messaging_service_sid:
            options["messaging_service_sid"] = self._messaging_service_sid
        elif sender:
            options["from_"] = sender
        else:
            raise ProviderRejected("no SMS sender: set ROBOCALL_SMS_SENDER or a messaging service")
        asked_at = utcnow()

        def already_sent() -> ProviderMessage | None:
            for found in self.client.messages.list(to=to, limit=20):
                message = self._message(found)
                created = message.created_at
                if message.body == body and (created is None or created >= asked_at - _CLOCK_SKEW):
                    return message
            return None

        return self._create(
            what=f"SMS to {mask_phone(to)}",
            create=lambda: self._message(self.client.messages.create(**options)),
            already_done=already_sent,
        )

    def fetch_message(self, *, message_sid: str) -> ProviderMessage:
        """The provider's current view of an SMS."""
        return self._message(self._request(lambda: self.client.messages(message_sid).fetch()))

    def recent_messages_to(self, *, to: str, since: dt.datetime) -> list[ProviderMessage]:
        """SMS to `to` created at or after `since`, newest first."""

        def listed() -> list[ProviderMessage]:
            messages = [self._message(m) for m in self.client.messages.list(to=to, limit=50)]
            recent = [m for m in messages if m.created_at is None or m.created_at >= since]
            return sorted(recent, key=lambda m: m.created_at or since, reverse=True)

        return self._request(listed)

    # --- webhooks ---------------------------------------------------------------------------

    def verify_webhook(self, *, url: str, params: Mapping[str, str], signature: str | None) -> bool:
        """Whether a webhook request carries Twilio's signature for this URL and form."""
        return is_valid_signature(self._auth_token, url, params, signature)

    def call_event(self, *, kind: CallEventKind, params: Mapping[str, str]) -> CallEventData:
        """A call callback's form fields in robocall's words."""
        return call_event_from(kind=kind, params=params)

    def message_event(self, *, params: Mapping[str, str]) -> MessageEventData:
        """An SMS callback's (or inbound SMS's) form fields in robocall's words."""
        return message_event_from(params=params)

    # --- the retry policy -------------------------------------------------------------------

    def _create(
        self,
        *,
        what: str,
        create: Callable[[], T],
        already_done: Callable[[], T | None],
    ) -> T:
        """Create with retries: 429/5xx wait and retry; a timeout first asks what happened."""
        wait = self._backoff
        last: ProviderError = ProviderUnavailable(f"{what}: provider not reached")
        for attempt in range(1, self._tries + 1):
            try:
                return create()
            except TwilioRestException as exc:
                error = _translate(exc)
                if isinstance(error, ProviderRejected):
                    raise error from exc
                last = error
                log.warning("%s: %s (try %d of %d)", what, error, attempt, self._tries)
            except requests.exceptions.ConnectTimeout as exc:
                # The request never left: nothing can have been created.
                last = ProviderUnavailable(
                    f"{what}: provider not reached ({exc.__class__.__name__})"
                )
            except requests.exceptions.RequestException as exc:
                # The request may have arrived: find out before sending it again.
                log.warning("%s: no answer (%s); looking it up", what, exc.__class__.__name__)
                try:
                    found = self._request(already_done)
                except ProviderError as lookup_error:
                    raise ProviderUncertain(
                        f"{what}: no answer and the lookup failed ({lookup_error.message}); "
                        "it may have been placed"
                    ) from exc
                if found is not None:
                    return found
                last = ProviderUnavailable(f"{what}: no answer from the provider")
            if attempt < self._tries:
                time.sleep(wait)
                wait *= 2
        raise last

    def _request(self, request: Callable[[], T]) -> T:
        """One read or update, with provider errors in robocall's words."""
        try:
            return request()
        except TwilioRestException as exc:
            raise _translate(exc) from exc
        except requests.exceptions.RequestException as exc:
            raise ProviderUnavailable(f"provider not reached ({exc.__class__.__name__})") from exc

    # --- conversions ------------------------------------------------------------------------

    @staticmethod
    def _call(instance: Any) -> ProviderCall:
        return ProviderCall(
            sid=instance.sid,
            to=instance.to or "",
            from_=instance._from or "",
            status=call_status(instance.status),
            direction=call_direction(instance.direction),
            answered_by=answered_by(instance.answered_by),
            duration_seconds=_int(instance.duration),
            created_at=instance.date_created,
            started_at=instance.start_time,
            ended_at=instance.end_time,
        )

    @staticmethod
    def _message(instance: Any) -> ProviderMessage:
        return ProviderMessage(
            sid=instance.sid,
            to=instance.to or "",
            from_=instance.from_ or "",
            body=instance.body or "",
            status=message_status(instance.status),
            segments=_int(instance.num_segments),
            error_code=instance.error_code,
            created_at=instance.date_created,
            sent_at=instance.date_sent,
        )


def _translate(exc: TwilioRestException) -> ProviderError:
    """A Twilio error as robocall's: busy or failing (try later), or refused (never)."""
    message = exc.msg or f"HTTP {exc.status}"
    if exc.status == 429 or exc.code == ERROR_TOO_MANY_REQUESTS or exc.status >= 500:
        return ProviderUnavailable(message, code=exc.code, http_status=exc.status)
    return ProviderRejected(message, code=exc.code, http_status=exc.status)


def call_event_from(*, kind: CallEventKind, params: Mapping[str, str]) -> CallEventData:
    """A Twilio call callback (status, AMD or recording) in robocall's words."""
    status_word = params.get("CallStatus")
    duration = params.get("CallDuration")
    return CallEventData(
        call_sid=params.get("CallSid", ""),
        kind=kind,
        status=call_status(status_word) if kind is CallEventKind.status and status_word else None,
        answered_by=answered_by(params.get("AnsweredBy")),
        direction=call_direction(params.get("Direction")) if params.get("Direction") else None,
        to=params.get("To") or params.get("Called") or None,
        from_=params.get("From") or params.get("Caller") or None,
        duration_seconds=_int(duration),
        sequence_number=_int(params.get("SequenceNumber")),
        occurred_at=_rfc2822(params.get("Timestamp")),
        error_code=_int(params.get("ErrorCode")),
        recording_url=params.get("RecordingUrl") or None,
        recording_duration_seconds=_int(params.get("RecordingDuration")),
        fields=dict(params),
    )


def message_event_from(*, params: Mapping[str, str]) -> MessageEventData:
    """A Twilio SMS status callback or inbound SMS in robocall's words."""
    word = params.get("MessageStatus") or params.get("SmsStatus") or "received"
    return MessageEventData(
        message_sid=params.get("MessageSid") or params.get("SmsSid") or "",
        status=message_status(word),
        to=params.get("To") or None,
        from_=params.get("From") or None,
        body=params.get("Body"),
        segments=_int(params.get("NumSegments")),
        error_code=_int(params.get("ErrorCode")),
        fields=dict(params),
    )


def load_client_modules() -> None:
    """Import the REST client's call and message modules, which it otherwise loads lazily on
    the first request."""
    import twilio.rest.api.v2010.account.call
    import twilio.rest.api.v2010.account.message  # noqa: F401
