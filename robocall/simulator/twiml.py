"""A resident on a simulated call following robocall's TwiML, verb by verb.

Supported: Say, Play, Pause, Gather (dtmf and speech), Record, Redirect, Dial, Reject,
Hangup. Anything Twilio would refuse (a failed fetch, XML that is not TwiML, an unknown verb
or a bad attribute) ends the call with Twilio's "application error" message, as Twilio does.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Coroutine, Mapping
from typing import Any, Protocol

from robocall.simulator.delivery import (
    Transcripts,
    WebhookDelivery,
    WebhookTimeout,
    absolute_url,
)
from robocall.simulator.personas import Outcome
from robocall.simulator.resources import SimCall, new_sid

APPLICATION_ERROR = "We are sorry, an application error has occurred. Goodbye."
SECONDS_PER_WORD = 0.4  # speaking pace of text-to-speech
PLAY_SECONDS = 3.0  # an audio file, when its length is unknown
RECORDING_SECONDS = 5  # what a resident says when asked to leave a message
DIALLED_TALK_SECONDS = 10  # a forwarded call's conversation
MAX_DOCUMENTS = 200  # Redirect/Gather loops longer than this are an application error


class CallEnded(Exception):
    """The call is over: hung up by either side, or ended by an error."""

    def __init__(self, status: str = "completed"):
        super().__init__(status)
        self.status = status


class Redirected(Exception):
    """The API asked to continue the call with another TwiML document."""

    def __init__(self, url: str, method: str):
        super().__init__(url)
        self.url = url
        self.method = method


class TwimlError(Exception):
    """TwiML Twilio would refuse."""


class CallNetwork(Protocol):
    """What a call following TwiML needs of the network it is on."""

    delivery: WebhookDelivery
    transcripts: Transcripts

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...

    async def answer(self, call: SimCall) -> None: ...

    async def pause(self, call: SimCall, simulated_seconds: float) -> None: ...

    def call_params(self, call: SimCall) -> dict[str, str]: ...

    async def post_callback(
        self, sid: str, kind: str, url: str, method: str, params: Mapping[str, str]
    ) -> str: ...

    def take_timeout_fault(self, url: str) -> bool:
        """Whether a timeout fault is set for this URL (it is used up)."""
        ...


class TwimlRunner:
    """Fetches and follows the TwiML of one call."""

    def __init__(self, network: CallNetwork, call: SimCall) -> None:
        self.network = network
        self.call = call
        self.behaviour = call.behaviour

    def note(self, kind: str, text: str, **details: object) -> None:
        self.network.transcripts.add(self.call.sid, kind, text, **details)

    async def run(self, *, answer_first: bool = False) -> None:
        """Follow the call's documents until one ends or the call is hung up."""
        url, method = self.call.url, self.call.method
        params: dict[str, str] = {}
        inline = self.call.twiml
        for _ in range(MAX_DOCUMENTS):
            try:
                if inline is not None:
                    root, url_base = _parse(inline), url or ""
                    inline = None
                else:
                    assert url is not None
                    root, url_base = await self._fetch(url, method, params), url
                if answer_first:
                    # An inbound call is answered unless the first verb rejects it.
                    answer_first = False
                    first = next(iter(root), None)
                    if first is not None and first.tag == "Reject":
                        reason = first.get("reason", "rejected")
                        self.note("reject", f"call rejected ({reason})")
                        raise CallEnded("busy" if reason == "busy" else "no-answer")
                    await self.network.answer(self.call)
                following = await self._follow(root, url_base)
            except Redirected as redirected:
                following = (redirected.url, redirected.method, {})
            except TwimlError as exc:
                self.note("error", f"{exc}; Twilio says: {APPLICATION_ERROR}")
                raise CallEnded("completed" if self.call.start_time else "failed") from None
            if following is None:
                return
            url, method, params = following
        self.note("error", "too many TwiML documents in one call")
        raise CallEnded("completed")

    async def _fetch(self, url: str, method: str, params: dict[str, str]) -> ET.Element:
        fields = {**self.network.call_params(self.call), **params}
        try:
            answer = await self.network.delivery.send(
                method, url, fields, force_timeout=self.network.take_timeout_fault(url)
            )
        except WebhookTimeout as exc:
            self.note("fetch", url, answer=f"timeout ({exc})")
            raise TwimlError("error 11205: the TwiML request timed out") from None
        except Exception as exc:
            self.note("fetch", url, answer=f"error ({exc})")
            raise TwimlError(f"error 11200: {exc}") from None
        self.note("fetch", url, answer=str(answer.status_code))
        if answer.status_code >= 400:
            raise TwimlError(f"error 11200: HTTP {answer.status_code} from {url}")
        return _parse(answer.text)

    async def _follow(self, root: ET.Element, base: str) -> tuple[str, str, dict[str, str]] | None:
        """Run the verbs of one document; the next document to fetch, or None at the end."""
        for verb in root:
            handler = getattr(self, f"_verb_{verb.tag.lower()}", None)
            if handler is None or verb.tag[0].islower():
                raise TwimlError(f"error 12200: <{verb.tag}> is not a TwiML verb")
            following = await handler(verb, base)
            if following is not None:
                return following
        return None

    # --- verbs ------------------------------------------------------------------------------

    async def _verb_say(self, verb: ET.Element, base: str) -> None:
        text = " ".join((verb.text or "").split())
        for _ in range(_loop(verb)):
            self.note("say", text, language=verb.get("language"))
            await self.network.pause(self.call, max(1.0, len(text.split()) * SECONDS_PER_WORD))

    async def _verb_play(self, verb: ET.Element, base: str) -> None:
        if verb.get("digits"):
            self.note("play", f"keys {verb.get('digits')}")
            return
        url = absolute_url(base, (verb.text or "").strip())
        for _ in range(_loop(verb)):
            self.note("play", url)
            await self.network.pause(self.call, PLAY_SECONDS)

    async def _verb_pause(self, verb: ET.Element, base: str) -> None:
        length = _int_attr(verb, "length", 1)
        self.note("pause", f"{length} s")
        await self.network.pause(self.call, length)

    async def _verb_gather(
        self, verb: ET.Element, base: str
    ) -> tuple[str, str, dict[str, str]] | None:
        inputs = set((verb.get("input") or "dtmf").split())
        if not inputs <= {"dtmf", "speech"}:
            raise TwimlError(f"error 12200: Gather input {verb.get('input')!r}")
        timeout = _int_attr(verb, "timeout", 5)
        num_digits = _int_attr(verb, "numDigits", 0)
        finish_on_key = verb.get("finishOnKey", "#")
        action = absolute_url(base, verb.get("action") or base)
        method = (verb.get("method") or "POST").upper()
        on_empty = (verb.get("actionOnEmptyResult") or "false").lower() == "true"
        for prompt in verb:
            if prompt.tag not in {"Say", "Play", "Pause"}:
                raise TwimlError(f"error 12200: <{prompt.tag}> inside <Gather>")
            await getattr(self, f"_verb_{prompt.tag.lower()}")(prompt, base)
        step = self.call.gather_step
        self.call.gather_step += 1
        human = self.behaviour.outcome is Outcome.human
        hangup_after = self.behaviour.hangup_after
        if human and hangup_after is not None and step >= hangup_after:
            self.note("hangup", f"the resident hangs up after {hangup_after} answers")
            raise CallEnded("completed")
        params: dict[str, str] = {}
        if human and "dtmf" in inputs and self.behaviour.press:
            keys = self.behaviour.keys_at(step)
            await self.network.pause(self.call, self.behaviour.talk_seconds)
            digits, finished_on = _digits(keys, num_digits, finish_on_key)
            self.note("press", keys)
            if digits or finished_on:
                params = {"Digits": digits}
                if finished_on:
                    params["FinishedOnKey"] = finished_on
        elif human and "speech" in inputs and self.behaviour.say:
            phrase = self.behaviour.speech_at(step)
            await self.network.pause(self.call, self.behaviour.talk_seconds)
            self.note("speech", phrase)
            params = {"SpeechResult": phrase, "Confidence": "0.92"}
        if params:
            self.note("gather", f"→ {action}")
            return action, method, params
        await self.network.pause(self.call, timeout)
        self.note("gather", "no input (timeout)")
        if on_empty:
            return action, method, {"Digits": ""} if "dtmf" in inputs else {}
        return None

    async def _verb_record(
        self, verb: ET.Element, base: str
    ) -> tuple[str, str, dict[str, str]] | None:
        max_length = _int_attr(verb, "maxLength", 3600)
        action = absolute_url(base, verb.get("action") or base)
        method = (verb.get("method") or "POST").upper()
        speaks = self.behaviour.outcome is Outcome.human
        duration = min(max_length, RECORDING_SECONDS) if speaks else 0
        if (verb.get("playBeep") or "true").lower() == "true":
            self.note("play", "beep")
        await self.network.pause(self.call, duration or _int_attr(verb, "timeout", 5))
        recording_sid = new_sid("RE")
        recording_url = (
            f"https://api.twilio.com/2010-04-01/Accounts/{self.call.account_sid}"
            f"/Recordings/{recording_sid}"
        )
        self.note("record", f"{duration} s recorded", url=recording_url)
        status_callback = verb.get("recordingStatusCallback")
        if status_callback:
            fields = {
                "AccountSid": self.call.account_sid,
                "CallSid": self.call.sid,
                "RecordingSid": recording_sid,
                "RecordingUrl": recording_url,
                "RecordingStatus": "completed",
                "RecordingDuration": str(duration),
                "RecordingChannels": "1",
                "RecordingSource": "RecordVerb",
            }
            self.network.spawn(
                self.network.post_callback(
                    self.call.sid,
                    "recording",
                    absolute_url(base, status_callback),
                    (verb.get("recordingStatusCallbackMethod") or "POST").upper(),
                    fields,
                )
            )
        params = {
            "RecordingUrl": recording_url,
            "RecordingDuration": str(duration),
            "RecordingSid": recording_sid,
            "Digits": "hangup" if not speaks else "#",
        }
        return action, method, params

    async def _verb_redirect(self, verb: ET.Element, base: str) -> tuple[str, str, dict[str, str]]:
        target = (verb.text or "").strip()
        if not target:
            raise TwimlError("error 12100: <Redirect> without a URL")
        url = absolute_url(base, target)
        self.note("redirect", url)
        return url, (verb.get("method") or "POST").upper(), {}

    async def _verb_dial(
        self, verb: ET.Element, base: str
    ) -> tuple[str, str, dict[str, str]] | None:
        numbers = [(n.text or "").strip() for n in verb if n.tag == "Number"]
        number = numbers[0] if numbers else (verb.text or "").strip()
        if not number:
            raise TwimlError("error 12100: <Dial> without a number")
        self.note("dial", number)
        await self.network.pause(self.call, DIALLED_TALK_SECONDS)
        action = verb.get("action")
        if not action:
            return None
        params = {
            "DialCallStatus": "completed",
            "DialCallDuration": str(DIALLED_TALK_SECONDS),
            "DialCallSid": new_sid("CA"),
        }
        return absolute_url(base, action), (verb.get("method") or "POST").upper(), params

    async def _verb_reject(self, verb: ET.Element, base: str) -> None:
        # After the call is answered Twilio treats <Reject> as a hang-up.
        self.note("hangup", "rejected by the application")
        raise CallEnded("completed")

    async def _verb_hangup(self, verb: ET.Element, base: str) -> None:
        self.note("hangup", "hung up by the application")
        raise CallEnded("completed")


def _parse(text: str) -> ET.Element:
    try:
        root = ET.fromstring(text.strip())
    except ET.ParseError as exc:
        raise TwimlError(f"error 12100: the document is not XML ({exc})") from None
    if root.tag != "Response":
        raise TwimlError(f"error 12100: the root element is <{root.tag}>, not <Response>")
    return root


def _int_attr(verb: ET.Element, name: str, default: int) -> int:
    raw = verb.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise TwimlError(f"error 12200: <{verb.tag} {name}={raw!r}> is not a number") from None
    if value < 0:
        raise TwimlError(f"error 12200: <{verb.tag} {name}={raw!r}> is negative")
    return value


def _loop(verb: ET.Element) -> int:
    # loop="0" repeats until the call ends; a resident listens to it once more at most.
    count = _int_attr(verb, "loop", 1)
    return 2 if count == 0 else min(count, 10)


def _digits(keys: str, num_digits: int, finish_on_key: str) -> tuple[str, str]:
    """The Digits Twilio reports for `keys`, and the finishing key if one was pressed."""
    collected = ""
    for key in keys:
        if key == "w":  # a half-second wait between keys
            continue
        if finish_on_key and key in finish_on_key:
            return collected, key
        collected += key
        if num_digits and len(collected) >= num_digits:
            break
    return collected, ""
