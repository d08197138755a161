"""The simulated phone network: places calls at a limited rate, rings residents who behave as
their persona says, follows robocall's TwiML, and sends Twilio's signed callbacks.

All of it runs on one asyncio event loop (the simulator server's, or the CLI's).
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import logging
import math
import time
from collections import defaultdict, deque
from collections.abc import Mapping
from typing import Any

import phonenumbers

from robocall.kit.masking import mask_phone
from robocall.simulator.delivery import Transcripts, WebhookDelivery, WebhookTimeout
from robocall.simulator.faults import Faults
from robocall.simulator.messaging import Messaging
from robocall.simulator.personas import Behaviour, Outcome, Personas
from robocall.simulator.resources import (
    API_VERSION,
    FINAL_MESSAGE_STATUSES,
    NumberConfig,
    SimCall,
    SimMessage,
    SimulatorError,
    country_of,
    new_sid,
    now,
    required_text,
    rfc2822,
)
from robocall.simulator.twiml import CallEnded, Redirected, TwimlRunner

log = logging.getLogger(__name__)

CALL_EVENTS = ("initiated", "ringing", "answered", "completed")
# Ended calls and messages stay fetchable for a day, once there are this many.
KEEP_AT_MOST = 10_000
KEEP_ENDED = dt.timedelta(days=1)


class Network(Messaging):
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
        self.requests: deque[tuple[str, dict[str, Any]]] = deque(maxlen=10_000)
        # When each call was created (epoch seconds), as the provider counts calls per second.
        self.created_times: deque[float] = deque(maxlen=1_000_000)
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
        self.transcripts.flush()

    # --- REST: calls ------------------------------------------------------------------------

    async def create_call(self, form: Mapping[str, Any]) -> SimCall:
        """CreateCall: validate like Twilio, queue the call, return it (status `queued`)."""
        self.requests.append(("CreateCall", dict(form)))
        await self._create_faults()
        to = required_text(form, "To", 21201, "No 'To' number is specified")
        from_ = required_text(form, "From", 21213, "No 'From' number is specified")
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
        self._forget_old_calls()
        self.calls[call.sid] = call
        self.created_times.append(time.time())
        self.transcripts.begin(
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
        if form.get("Twiml"):
            raise SimulatorError(400, 20001, "the simulator follows Url updates only, not Twiml")
        url = form.get("Url")
        if url:
            method = (form.get("Method") or "POST").upper()
            self.transcripts.add(call.sid, "api", f"redirect to {url}")
            if call.status == "in-progress":
                call.redirect = (url, method)
                call.interrupt.set()
            else:
                # Not answered yet: the new URL is the one fetched on answer.
                call.url, call.method, call.twiml = url, method, None
        return call

    def list_calls(self, filters: Mapping[str, str]) -> list[SimCall]:
        from robocall.simulator.listing import matches_call

        self.requests.append(("ListCall", dict(filters)))
        found = [c for c in self.calls.values() if matches_call(c, filters)]
        return sorted(found, key=lambda c: c.date_created, reverse=True)

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
        self.transcripts.begin(call.sid, "call", f"{from_} → {to} (inbound)")
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
            call.live = True
            self.live_calls += 1
            self._undialled -= 1
            self.peak_live_calls = max(self.peak_live_calls, self.live_calls)
            self.spawn(self._run_outbound(call))

    async def _run_outbound(self, call: SimCall) -> None:
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
        except Exception:
            log.exception("simulated call %s broke down", call.sid)
            self.transcripts.add(call.sid, "error", "the simulator broke down; see its log")
            await self.finish(call, "failed")
        finally:
            self._not_live(call)
            if self._slots is not None:
                self._slots.release()

    async def _run_inbound(self, call: SimCall) -> None:
        try:
            call.status = "ringing"
            await self.status_event(call, "ringing")
            await TwimlRunner(self, call).run(answer_first=True)
            await self.finish(call, "completed")
        except CallEnded as ended:
            await self.finish(call, ended.status)
        except Exception:
            log.exception("simulated call %s broke down", call.sid)
            self.transcripts.add(call.sid, "error", "the simulator broke down; see its log")
            await self.finish(call, "failed")

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
        # Over for the provider's counts now, before its last callbacks are delivered.
        self._not_live(call)
        if call.start_time is not None:
            real = (call.end_time - call.start_time).total_seconds()
            call.duration_seconds = round(real / self.time_factor) if self.time_factor else 0
        else:
            call.duration_seconds = 0
        self.transcripts.add(call.sid, "end", f"call {status}", duration=call.duration_seconds)
        log.info("simulated call %s to %s ended: %s", call.sid, mask_phone(call.to), status)
        return True

    def _not_live(self, call: SimCall) -> None:
        if call.live:
            call.live = False
            self.live_calls -= 1

    async def _ended(self, call: SimCall) -> None:
        await self.status_event(call, "completed")
        held = self._held_callbacks.pop(call.sid, [])
        for url, method, params in reversed(held):
            await self._send_status(call, url, method, params)
        call.done.set()
        self.transcripts.close(call.sid)

    def creation_stats(self) -> dict[str, Any]:
        """How fast calls were created: the provider's view of a caller's rate."""
        times = sorted(self.created_times)
        busiest = max(
            (bisect.bisect_left(times, start + 1.0) - i for i, start in enumerate(times)),
            default=0,
        )
        return {
            "calls_created": len(times),
            "first_created": times[0] if times else None,
            "last_created": times[-1] if times else None,
            "most_created_in_one_second": busiest,
            "peak_live_calls": self.peak_live_calls,
        }

    def _forget_old_calls(self) -> None:
        """Drop calls and messages that ended long ago: a simulator may run for weeks."""
        if len(self.calls) + len(self.messages) < KEEP_AT_MOST:
            return
        cutoff = now() - KEEP_ENDED
        for sid, call in list(self.calls.items()):
            if call.is_final and call.end_time is not None and call.end_time < cutoff:
                del self.calls[sid]
        for sid, message in list(self.messages.items()):
            if message.status in FINAL_MESSAGE_STATUSES and message.date_updated < cutoff:
                del self.messages[sid]

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
            "FromCountry": country_of(call.from_),
            "To": call.to,
            "ToCountry": country_of(call.to),
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
        field = {"amd": "AnsweredBy", "recording": "RecordingStatus", "sms-status": "MessageStatus"}
        detail = params.get(field.get(kind, "CallStatus"))
        label = f"{kind} {detail}" if detail and kind != "sms" else kind
        try:
            answer = await self.delivery.send(
                method, url, params, force_timeout=self.take_timeout_fault(url)
            )
        except WebhookTimeout as exc:
            self.transcripts.add(sid, "callback", label, url=url, answer=f"timeout ({exc})")
            return "timeout"
        except Exception as exc:  # the app is down or refused the connection
            self.transcripts.add(sid, "callback", label, url=url, answer=f"error ({exc})")
            return "error"
        self.transcripts.add(sid, "callback", label, url=url, answer=str(answer.status_code))
        return str(answer.status_code)

    def take_timeout_fault(self, url: str) -> bool:
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
