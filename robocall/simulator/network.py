"""The simulated phone network: places calls at a limited rate, rings residents who behave as
their persona says, follows robocall's TwiML, and sends Twilio's signed callbacks.

All of it runs on one asyncio event loop (the simulator server's, or the CLI's).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from robocall.kit.masking import mask_phone
from robocall.simulator.delivery import Transcripts, WebhookDelivery, WebhookTimeout
from robocall.simulator.personas import Behaviour, Outcome, Personas
from robocall.simulator.resources import (
    API_VERSION,
    SimCall,
    SimMessage,
    SimulatorError,
    new_sid,
    now,
    rfc2822,
)
from robocall.telephony.segments import sms_segments

log = logging.getLogger(__name__)

CALL_EVENTS = ("initiated", "ringing", "answered", "completed")
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
START_WORDS = {"START", "YES", "UNSTOP"}


@dataclass
class Faults:
    """Misbehaviour on demand, for tests."""

    # The next creates (calls or SMS) fail: 429, 5xx, or a Twilio code such as 21211 (as 400).
    create_errors: list[int] = field(default_factory=list)
    # The next `slow_creates` creates answer after `slow_create_seconds` (the call is made).
    slow_creates: int = 0
    slow_create_seconds: float = 0.0
    duplicate_callbacks: bool = False  # every status callback is sent twice
    out_of_order_callbacks: bool = False  # a call's status callbacks arrive last-first
    callback_delay_seconds: float = 0.0  # status callbacks arrive this late (real seconds)
    # Paths (e.g. "/webhooks/twilio/status") whose next request times out, one per entry.
    webhook_timeouts: list[str] = field(default_factory=list)

    def update(self, values: Mapping[str, Any]) -> None:
        for name, value in values.items():
            if name not in self.__dataclass_fields__:
                raise ValueError(f"unknown fault {name!r}")
            setattr(self, name, value)


@dataclass
class NumberConfig:
    """Where the network sends calls and SMS to one of the account's own numbers."""

    voice_url: str | None = None
    sms_url: str | None = None
    status_callback: str | None = None


class Network:
    """The simulated phone network of one Twilio account."""

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        delivery: WebhookDelivery,
        transcripts: Transcripts,
        personas: Personas | None = None,
        calls_per_second: float = 1.0,
        max_concurrent: int = 20,
        time_factor: float = 1.0,
        numbers: Mapping[str, NumberConfig] | None = None,
        allowed_countries: frozenset[str] = frozenset({"VN"}),
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.delivery = delivery
        self.transcripts = transcripts
        self.personas = personas or Personas()
        self.calls_per_second = calls_per_second
        self.max_concurrent = max_concurrent
        self.time_factor = time_factor
        self.numbers: dict[str, NumberConfig] = dict(numbers or {})
        self.allowed_countries = allowed_countries
        self.faults = Faults()
        self.calls: dict[str, SimCall] = {}
        self.messages: dict[str, SimMessage] = {}
        # Every REST request received, as (operation, form): for contract tests.
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.live_calls = 0  # dialled and not yet ended
        self._undialled = 0  # accepted and waiting for the rate or a free slot
        self.peak_live_calls = 0
        self._attempts: dict[str, int] = defaultdict(int)
        self._unsubscribed: set[tuple[str, str]] = set()  # (resident, our number) after STOP
        self._pending: asyncio.Queue[SimCall] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._slots: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._held_callbacks: dict[str, list[tuple[str, str, dict[str, str]]]] = {}

    # --- time -------------------------------------------------------------------------------

    def seconds(self, simulated: float) -> float:
        """Real seconds for `simulated` seconds of ringing or talking."""
        return max(0.0, simulated * self.time_factor)

    def spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def idle(self, timeout: float = 30.0) -> None:
        """Wait until no call is queued or live and every callback is sent (tests, CLI)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            busy = [t for t in self._tasks if not t.done()]
            if not busy and not self._undialled:
                return
            await asyncio.sleep(0.01)
        raise TimeoutError("the simulated network is still busy")

    async def close(self) -> None:
        for task in list(self._tasks) + ([self._dispatcher] if self._dispatcher else []):
            task.cancel()
        await self.delivery.close()

    # --- REST: calls ------------------------------------------------------------------------

    async def create_call(self, form: Mapping[str, Any]) -> SimCall:
        """CreateCall: validate like Twilio, queue the call, return it (status `queued`)."""
        self.requests.append(("CreateCall", dict(form)))
        await self._create_faults()
        to = self._text(form, "To", 21201, "No 'To' number is specified")
        from_ = self._text(form, "From", 21213, "No 'From' number is specified")
        url, twiml = form.get("Url"), form.get("Twiml")
        if not url and not twiml and not form.get("ApplicationSid"):
            raise SimulatorError(400, 21205, "Url parameter is required.")
        to = self._dialable(to)
        if from_ not in self.numbers:
            raise SimulatorError(
                400,
                21210,
                f"The source phone number provided, {from_}, is not yet verified for your "
                "account. You may only make calls from phone numbers that you've verified or "
                "purchased from Twilio.",
            )
        timeout = self._int(form, "Timeout", 60)
        if not 1 <= timeout <= 600:
            raise SimulatorError(400, 21216, "Timeout must be between 1 and 600 seconds")
        events = form.get("StatusCallbackEvent") or []
        if isinstance(events, str):
            events = events.split()
        unknown = [e for e in events if e not in CALL_EVENTS]
        if unknown:
            raise SimulatorError(400, 21626, f"Invalid StatusCallbackEvent: {unknown[0]}")
        machine_detection = form.get("MachineDetection") or None
        if machine_detection not in (None, "Enable", "DetectMessageEnd"):
            raise SimulatorError(400, 21626, "MachineDetection must be Enable or DetectMessageEnd")
        attempt = self._attempts[to]
        self._attempts[to] += 1
        call = SimCall(
            sid=new_sid("CA"),
            account_sid=self.account_sid,
            to=to,
            from_=from_,
            direction="outbound-api",
            url=url,
            method=(form.get("Method") or "POST").upper(),
            twiml=twiml,
            behaviour=self.personas.behaviour(to, attempt),
            ring_timeout_seconds=timeout,
            status_callback=form.get("StatusCallback") or None,
            status_callback_method=(form.get("StatusCallbackMethod") or "POST").upper(),
            # Without StatusCallbackEvent Twilio sends only `completed`.
            status_callback_events=frozenset(events or ["completed"]),
            machine_detection=machine_detection,
            async_amd=str(form.get("AsyncAmd", "")).lower() == "true",
            amd_callback=form.get("AsyncAmdStatusCallback") or None,
            amd_callback_method=(form.get("AsyncAmdStatusCallbackMethod") or "POST").upper(),
        )
        self.calls[call.sid] = call
        self.transcripts.add(
            call.sid, "call", f"{call.from_} → {call.to}", behaviour=call.behaviour.outcome.value
        )
        await self._queue(call)
        if self.faults.slow_creates > 0:
            self.faults.slow_creates -= 1
            await asyncio.sleep(self.faults.slow_create_seconds)
        return call

    def get_call(self, sid: str) -> SimCall:
        call = self.calls.get(sid)
        if call is None:
            raise SimulatorError(404, 20404, f"The requested resource Calls/{sid} was not found")
        return call

    def fetch_call(self, sid: str) -> SimCall:
        self.requests.append(("FetchCall", {"Sid": sid}))
        return self.get_call(sid)

    async def update_call(self, sid: str, form: Mapping[str, Any]) -> SimCall:
        """UpdateCall: hang up (Status=completed|canceled) or redirect (Url/Twiml)."""
        self.requests.append(("UpdateCall", dict(form)))
        call = self.get_call(sid)
        status = form.get("Status")
        if status not in (None, "", "completed", "canceled"):
            raise SimulatorError(400, 21218, f"Invalid Status {status!r}: completed or canceled")
        if call.is_final:
            raise SimulatorError(400, 21220, "Call is not in-progress. Cannot redirect.")
        if status:
            if status == "canceled" and call.status == "in-progress":
                return call  # canceling only stops calls not yet answered
            call.hangup_requested = True
            self.transcripts.add(call.sid, "api", f"hang up requested (Status={status})")
            # Twilio answers with the final status; the callback follows.
            if self._end(call, "completed" if call.status == "in-progress" else "canceled"):
                self.spawn(self._ended(call))
            call.interrupt.set()
            return call
        url = form.get("Url")
        if url:
            call.redirect = (url, (form.get("Method") or "POST").upper())
            self.transcripts.add(call.sid, "api", f"redirect to {url}")
            call.interrupt.set()
        return call

    def list_calls(self, filters: Mapping[str, str]) -> list[SimCall]:
        from robocall.simulator.listing import matches_call

        self.requests.append(("ListCall", dict(filters)))
        found = [c for c in self.calls.values() if matches_call(c, filters)]
        return sorted(found, key=lambda c: c.date_created, reverse=True)

    # --- REST: messages ---------------------------------------------------------------------

    async def create_message(self, form: Mapping[str, Any]) -> SimMessage:
        """CreateMessage: validate like Twilio, queue the SMS, then deliver it."""
        self.requests.append(("CreateMessage", dict(form)))
        await self._create_faults()
        to = self._text(form, "To", 21604, "A 'To' phone number is required.")
        body = form.get("Body") or ""
        service = form.get("MessagingServiceSid") or None
        from_ = form.get("From") or None
        if not from_ and not service:
            raise SimulatorError(400, 21603, "A 'From' or 'MessagingServiceSid' is required.")
        if not body:
            raise SimulatorError(400, 21602, "Message body is required.")
        if len(body) > 1600:
            raise SimulatorError(
                400, 21617, "The concatenated message body exceeds 1600 characters."
            )
        try:
            parsed = phonenumbers.parse(to, None)
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is None or not phonenumbers.is_possible_number(parsed):
            raise SimulatorError(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if phonenumbers.region_code_for_number(parsed) not in self.allowed_countries:
            raise SimulatorError(
                400, 21408, f"Permission to send an SMS has not been enabled for the region {to}"
            )
        if phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.FIXED_LINE:
            raise SimulatorError(400, 21614, f"'To' number {to} is not a valid mobile number")
        sender = from_ or self._service_number()
        if (to, sender) in self._unsubscribed:
            raise SimulatorError(400, 21610, "Attempt to send to unsubscribed recipient")
        message = SimMessage(
            sid=new_sid("SM"),
            account_sid=self.account_sid,
            to=to,
            from_=sender,
            body=body,
            direction="outbound-api",
            segments=sms_segments(body),
            messaging_service_sid=service,
            status_callback=form.get("StatusCallback") or None,
            status="accepted" if service else "queued",
        )
        self.messages[message.sid] = message
        self.spawn(self._deliver_sms(message))
        return message

    def fetch_message(self, sid: str) -> SimMessage:
        self.requests.append(("FetchMessage", {"Sid": sid}))
        message = self.messages.get(sid)
        if message is None:
            raise SimulatorError(404, 20404, f"The requested resource Messages/{sid} was not found")
        return message

    def list_messages(self, filters: Mapping[str, str]) -> list[SimMessage]:
        self.requests.append(("ListMessage", dict(filters)))
        found = [
            m
            for m in self.messages.values()
            if (not filters.get("To") or m.to == filters["To"])
            and (not filters.get("From") or m.from_ == filters["From"])
        ]
        return sorted(found, key=lambda m: m.date_created, reverse=True)

    async def _deliver_sms(self, message: SimMessage) -> None:
        await asyncio.sleep(self.seconds(1.0))
        message.status = "sent"
        message.date_sent = message.date_updated = now()
        await self._sms_callback(message)
        await asyncio.sleep(self.seconds(2.0))
        behaviour = self.personas.behaviour(message.to, self._attempts[message.to])
        parsed = phonenumbers.parse(message.to, None)
        if not phonenumbers.is_valid_number(parsed):
            message.status, message.error_code = "failed", 30006
            message.error_message = "Landline or unreachable carrier"
        elif behaviour.outcome is Outcome.failed:
            message.status, message.error_code = "undelivered", 30003
            message.error_message = "Unreachable destination handset"
        else:
            message.status = "delivered"
        message.date_updated = now()
        await self._sms_callback(message)

    async def _sms_callback(self, message: SimMessage) -> None:
        if not message.status_callback:
            return
        params = {
            "AccountSid": message.account_sid,
            "ApiVersion": API_VERSION,
            "From": message.from_ or "",
            "MessageSid": message.sid,
            "MessageStatus": message.status,
            "SmsSid": message.sid,
            "SmsStatus": message.status,
            "To": message.to,
        }
        if message.messaging_service_sid:
            params["MessagingServiceSid"] = message.messaging_service_sid
        if message.error_code is not None:
            params["ErrorCode"] = str(message.error_code)
        await self.post_callback(message.sid, "sms-status", message.status_callback, "POST", params)

    async def inbound_sms(self, *, from_: str, to: str, body: str) -> dict[str, Any]:
        """A resident texts one of our numbers: the network posts it to the number's SMS URL."""
        config = self.numbers.get(to)
        if config is None or not config.sms_url:
            raise SimulatorError(404, 20404, f"{to} is not a number of this account")
        message = SimMessage(
            sid=new_sid("SM"),
            account_sid=self.account_sid,
            to=to,
            from_=from_,
            body=body,
            direction="inbound",
            segments=sms_segments(body),
            status="received",
        )
        self.messages[message.sid] = message
        word = body.strip().upper()
        if word in STOP_WORDS:
            self._unsubscribed.add((from_, to))
        elif word in START_WORDS:
            self._unsubscribed.discard((from_, to))
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "Body": body,
            "From": from_,
            "FromCountry": _country(from_),
            "MessageSid": message.sid,
            "NumMedia": "0",
            "NumSegments": str(message.segments),
            "SmsMessageSid": message.sid,
            "SmsSid": message.sid,
            "SmsStatus": "received",
            "To": to,
            "ToCountry": _country(to),
        }
        answer = await self.post_callback(message.sid, "sms", config.sms_url, "POST", params)
        return {"sid": message.sid, "answer": answer}

    # --- placing calls ----------------------------------------------------------------------

    async def inbound_call(self, *, from_: str, to: str, behaviour: Behaviour) -> SimCall:
        """A resident calls one of our numbers (the hotline): the network fetches its TwiML."""
        config = self.numbers.get(to)
        if config is None or not config.voice_url:
            raise SimulatorError(404, 20404, f"{to} is not a number of this account")
        call = SimCall(
            sid=new_sid("CA"),
            account_sid=self.account_sid,
            to=to,
            from_=from_,
            direction="inbound",
            url=config.voice_url,
            method="POST",
            twiml=None,
            behaviour=behaviour,
            status_callback=config.status_callback,
            status_callback_events=frozenset(CALL_EVENTS),
        )
        self.calls[call.sid] = call
        self.transcripts.add(call.sid, "call", f"{from_} → {to} (inbound)")
        self.spawn(self._run_inbound(call))
        return call

    async def _queue(self, call: SimCall) -> None:
        if self._pending is None:
            self._pending = asyncio.Queue()
            self._slots = asyncio.Semaphore(max(1, self.max_concurrent))
            self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch())
        self._undialled += 1
        await self._pending.put(call)

    async def _dispatch(self) -> None:
        """Start queued calls no faster than the CPS limit and no more than the slots allow."""
        assert self._pending is not None and self._slots is not None
        loop = asyncio.get_running_loop()
        next_start = loop.time()
        while True:
            call = await self._pending.get()
            if call.is_final:
                self._undialled -= 1
                continue  # canceled while queued
            await self._slots.acquire()
            wait = next_start - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            next_start = max(loop.time(), next_start) + 1.0 / max(self.calls_per_second, 0.001)
            call.dialled_at = loop.time()
            self.live_calls += 1
            self._undialled -= 1
            self.peak_live_calls = max(self.peak_live_calls, self.live_calls)
            self.spawn(self._run_outbound(call))

    async def _run_outbound(self, call: SimCall) -> None:
        from robocall.simulator.twiml import CallEnded, TwimlRunner

        behaviour = call.behaviour
        try:
            if call.is_final:
                return
            await self.status_event(call, "initiated")
            if behaviour.outcome is Outcome.failed:
                await self.pause(call, 1.0)
                await self.finish(call, "failed")
                return
            call.status = "ringing"
            await self.status_event(call, "ringing")
            if behaviour.outcome is Outcome.busy:
                await self.pause(call, 2.0)
                await self.finish(call, "busy")
                return
            if behaviour.outcome is Outcome.no_answer or (
                behaviour.ring_seconds >= call.ring_timeout_seconds
            ):
                await self.pause(call, call.ring_timeout_seconds)
                await self.finish(call, "no-answer")
                return
            await self.pause(call, behaviour.ring_seconds)
            await self.answer(call)
            await TwimlRunner(self, call).run()
            await self.finish(call, "completed")
        except CallEnded as ended:
            await self.finish(call, ended.status)
        finally:
            self.live_calls -= 1
            if self._slots is not None:
                self._slots.release()

    async def _run_inbound(self, call: SimCall) -> None:
        from robocall.simulator.twiml import CallEnded, TwimlRunner

        try:
            call.status = "ringing"
            await self.status_event(call, "ringing")
            await TwimlRunner(self, call).run(answer_first=True)
            await self.finish(call, "completed")
        except CallEnded as ended:
            await self.finish(call, ended.status)

    async def answer(self, call: SimCall) -> None:
        """The resident (or a voicemail) picks up."""
        call.status = "in-progress"
        call.start_time = call.date_updated = now()
        human = call.behaviour.outcome is Outcome.human
        self.transcripts.add(
            call.sid, "answer", "answered by " + ("a person" if human else "voicemail")
        )
        if call.machine_detection:
            if human:
                call.answered_by = "human"
            elif call.machine_detection == "DetectMessageEnd":
                call.answered_by = "machine_end_beep"
            else:
                call.answered_by = "machine_start"
        await self.status_event(call, "answered")
        if call.machine_detection and call.async_amd and call.amd_callback:
            self.spawn(self._amd_result(call))

    async def _amd_result(self, call: SimCall) -> None:
        # The detector listens for a few seconds of the greeting.
        await asyncio.sleep(self.seconds(2.5))
        params = self.call_params(call)
        params["AnsweredBy"] = call.answered_by or "unknown"
        params["MachineDetectionDuration"] = "2500"  # milliseconds
        assert call.amd_callback is not None
        await self.post_callback(
            call.sid, "amd", call.amd_callback, call.amd_callback_method, params
        )

    async def pause(self, call: SimCall, simulated_seconds: float) -> None:
        """Let time pass on a call; stop early if it is hung up or redirected."""
        from robocall.simulator.twiml import CallEnded, Redirected

        if call.interrupt.is_set() or simulated_seconds <= 0:
            pass
        else:
            try:
                await asyncio.wait_for(call.interrupt.wait(), self.seconds(simulated_seconds))
            except TimeoutError:
                return
        if call.hangup_requested:
            raise CallEnded("completed" if call.status == "in-progress" else "canceled")
        if call.redirect is not None:
            call.interrupt.clear()
            url, method = call.redirect
            call.redirect = None
            raise Redirected(url, method)

    async def finish(self, call: SimCall, status: str) -> None:
        """End a call with its final status and send the `completed` callback."""
        if self._end(call, status):
            await self._ended(call)

    def _end(self, call: SimCall, status: str) -> bool:
        """Give the call its final status; False if it had one already."""
        if call.is_final:
            return False
        call.status = status
        call.end_time = call.date_updated = now()
        if call.start_time is not None:
            real = (call.end_time - call.start_time).total_seconds()
            call.duration_seconds = round(real / self.time_factor) if self.time_factor else 0
        else:
            call.duration_seconds = 0
        self.transcripts.add(call.sid, "end", f"call {status}", duration=call.duration_seconds)
        log.info("simulated call %s to %s ended: %s", call.sid, mask_phone(call.to), status)
        return True

    async def _ended(self, call: SimCall) -> None:
        await self.status_event(call, "completed")
        held = self._held_callbacks.pop(call.sid, [])
        for url, method, params in reversed(held):
            await self._send_status(call, url, method, params)
        call.done.set()

    # --- callbacks --------------------------------------------------------------------------

    def call_params(self, call: SimCall) -> dict[str, str]:
        """The fields Twilio sends in every request about a call."""
        params = {
            "AccountSid": call.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": call.sid,
            "CallStatus": call.status,
            "Called": call.to,
            "Caller": call.from_,
            "Direction": call.direction,
            "From": call.from_,
            "FromCountry": _country(call.from_),
            "To": call.to,
            "ToCountry": _country(call.to),
        }
        if call.machine_detection and call.answered_by and not call.async_amd:
            params["AnsweredBy"] = call.answered_by
        return params

    async def status_event(self, call: SimCall, event: str) -> None:
        """Send a call progress callback if the call asked for this event."""
        if not call.status_callback or (
            event not in call.status_callback_events and event != "completed"
        ):
            return
        params = self.call_params(call)
        params["CallStatus"] = "initiated" if event == "initiated" else call.status
        params["CallbackSource"] = "call-progress-events"
        params["SequenceNumber"] = str(call.sequence_number)
        params["Timestamp"] = rfc2822(now()) or ""
        call.sequence_number += 1
        if event == "completed":
            duration = call.duration_seconds or 0
            params["CallDuration"] = str(duration)
            params["Duration"] = str(math.ceil(duration / 60))  # billed minutes
            params["SipResponseCode"] = {"busy": "486", "no-answer": "487", "failed": "404"}.get(
                call.status, "200"
            )
            if call.machine_detection:
                params["AnsweredBy"] = call.answered_by or "unknown"
        url, method = call.status_callback, call.status_callback_method
        if self.faults.out_of_order_callbacks and event != "completed":
            self._held_callbacks.setdefault(call.sid, []).append((url, method, params))
            return
        await self._send_status(call, url, method, params)

    async def _send_status(
        self, call: SimCall, url: str, method: str, params: dict[str, str]
    ) -> None:
        copies = 2 if self.faults.duplicate_callbacks else 1
        delay = self.faults.callback_delay_seconds

        async def send() -> None:
            if delay:
                await asyncio.sleep(delay)
            for _ in range(copies):
                await self.post_callback(call.sid, "status", url, method, params)

        if delay:
            self.spawn(send())
        else:
            await send()

    async def post_callback(
        self, sid: str, kind: str, url: str, method: str, params: Mapping[str, str]
    ) -> str:
        """Send one callback and note its answer in the transcript; never raises."""
        detail = params.get("CallStatus") or params.get("MessageStatus") or params.get("AnsweredBy")
        label = f"{kind} {detail}" if detail and kind != "sms" else kind
        try:
            answer = await self.delivery.send(
                method, url, params, force_timeout=self._take_timeout_fault(url)
            )
        except WebhookTimeout as exc:
            self.transcripts.add(sid, "callback", label, url=url, answer=f"timeout ({exc})")
            return "timeout"
        except Exception as exc:  # the app is down or refused the connection
            self.transcripts.add(sid, "callback", label, url=url, answer=f"error ({exc})")
            return "error"
        self.transcripts.add(sid, "callback", label, url=url, answer=str(answer.status_code))
        return str(answer.status_code)

    def _take_timeout_fault(self, url: str) -> bool:
        for index, path in enumerate(self.faults.webhook_timeouts):
            if path in url:
                del self.faults.webhook_timeouts[index]
                return True
        return False

    # --- validation -------------------------------------------------------------------------

    async def _create_faults(self) -> None:
        if not self.faults.create_errors:
            return
        code = self.faults.create_errors.pop(0)
        if code == 429:
            raise SimulatorError(429, 20429, "Too Many Requests")
        if 500 <= code < 600:
            raise SimulatorError(code, 20500, "Internal Server Error")
        raise SimulatorError(400, code, f"Simulated error {code}")

    @staticmethod
    def _text(form: Mapping[str, Any], name: str, code: int, message: str) -> str:
        value = form.get(name)
        if not value or not isinstance(value, str):
            raise SimulatorError(400, code, message)
        return value

    @staticmethod
    def _int(form: Mapping[str, Any], name: str, default: int) -> int:
        value = form.get(name)
        if value in (None, ""):
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SimulatorError(400, 20001, f"{name} must be a whole number") from None

    def _dialable(self, to: str) -> str:
        try:
            parsed = phonenumbers.parse(to, None)
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is None or not phonenumbers.is_possible_number(parsed) or not to.startswith("+"):
            raise SimulatorError(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if phonenumbers.region_code_for_number(parsed) not in self.allowed_countries:
            raise SimulatorError(
                400,
                21215,
                f"Account not authorized to call {to}. Perhaps you need to enable some "
                "international permissions: https://www.twilio.com/console/voice/calls/geo-permissions",
            )
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

    def _service_number(self) -> str:
        return next(iter(self.numbers), "")


def _country(number: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number, None)) or ""
    except phonenumbers.NumberParseException:
        return ""
