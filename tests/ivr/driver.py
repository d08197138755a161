"""Drive flows in tests: through the pure engine, and through the signed webhooks."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from robocall.config import PROJECT_ROOT, get_settings
from robocall.ivr import engine
from robocall.ivr.engine import CallInput, Effect, Situation
from robocall.ivr.library import Library, load_folder
from robocall.telephony.signature import compute_signature
from robocall.telephony.twiml import render_twiml

FLOWS = PROJECT_ROOT / "ivr_flows"
# A Tuesday at 10:00 in Ho Chi Minh City (office hours) and the same day at 21:00.
OFFICE_TIME = dt.datetime(2026, 11, 24, 3, 0, tzinfo=dt.UTC)
NIGHT_TIME = dt.datetime(2026, 11, 24, 14, 0, tzinfo=dt.UTC)
ACTION = "https://robocall.test/webhooks/twilio/gather"


@lru_cache(maxsize=1)
def bundled_library() -> Library:
    return load_folder(FLOWS)


def spoken(twiml: str) -> str:
    """Everything the resident hears in a TwiML document, as one string."""
    root = ET.fromstring(twiml)
    return " ".join(" ".join((el.text or "").split()) for el in root.iter("Say"))


def verbs(twiml: str) -> list[str]:
    return [el.tag for el in ET.fromstring(twiml).iter() if el.tag != "Response"]


@dataclass
class EngineCall:
    """One call through the pure engine, keeping what a test wants to look at."""

    flow_name: str
    context: dict[str, Any] = field(default_factory=dict)
    now: dt.datetime = OFFICE_TIME
    duty_phone: str | None = "+84912000769"
    library: Library = field(default_factory=bundled_library)
    state: dict[str, Any] = field(default_factory=dict)
    twiml: str = ""
    effects: list[Effect] = field(default_factory=list)
    answers: list[engine.Answer] = field(default_factory=list)
    heard: list[str] = field(default_factory=list)

    def situation(self) -> Situation:
        return Situation(
            context=self.context,
            now=self.now,
            action_url=ACTION,
            faq=self.library.faq,
            caller_phone="+84901234567",
            duty_phone=self.duty_phone,
            caller_id="+842873001234",
        )

    @property
    def flow(self) -> Any:
        return self.library.flow(self.flow_name)

    def start(self, language: str = "vi") -> EngineCall:
        result = engine.start(self.flow, situation=self.situation(), language=language)
        return self._keep(result)

    def send(self, given: CallInput) -> EngineCall:
        result = engine.advance(self.flow, self.state, given, situation=self.situation())
        return self._keep(result)

    def press(self, *keys: str) -> EngineCall:
        for key in keys:
            self.send(CallInput(digits=key))
        return self

    def silence(self, times: int = 1) -> EngineCall:
        for _ in range(times):
            self.send(CallInput())
        return self

    def say(self, words: str) -> EngineCall:
        return self.send(CallInput(speech=words, confidence=0.9))

    def _keep(self, result: engine.StepResult) -> EngineCall:
        # The engine's call script, as the simulator and Twilio hear it.
        self.state, self.twiml = result.state, render_twiml(result.script)
        self.effects.extend(result.effects)
        self.answers.extend(result.answers)
        self.heard.append(spoken(self.twiml))
        return self

    @property
    def waiting_at(self) -> str | None:
        return self.state.get("node")

    def effect_kinds(self) -> list[str]:
        return [e.kind for e in self.effects]

    def last_heard(self) -> str:
        return self.heard[-1]


def signed_post(
    client: TestClient, path: str, form: dict[str, str], *, token: str | None = None
) -> Any:
    """POST a form to the app exactly as the provider would, signed for the public URL."""
    settings = get_settings()
    url = settings.public_url.rstrip("/") + path
    secret = token or settings.twilio_auth_token.get_secret_value()
    signature = compute_signature(secret, url, form)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


def gather_path(twiml: str) -> str:
    """The path and query of the step webhook the TwiML asks the provider to call next."""
    root = ET.fromstring(twiml)
    for tag in ("Gather", "Record", "Dial"):
        element = root.find(tag)
        if element is not None:
            parts = urlsplit(element.attrib["action"])
            return f"{parts.path}?{parts.query}"
    raise AssertionError(f"no question in {twiml}")


def step_of(path: str) -> int:
    return int(parse_qs(urlsplit(path).query)["step"][0])


@dataclass
class WebhookCall:
    """One call through the app's webhooks, as the provider would make it."""

    client: TestClient
    call_sid: str
    caller: str = "+84901234567"
    twiml: str = ""
    heard: list[str] = field(default_factory=list)

    def answer_outbound(self, flow: str, contact: int | None = None) -> WebhookCall:
        query = f"?flow={flow}" + (f"&contact={contact}" if contact is not None else "")
        form = {"CallSid": self.call_sid, "To": self.caller, "From": "+842873001234"}
        return self._post(f"/webhooks/twilio/voice{query}", form)

    def call_hotline(self) -> WebhookCall:
        form = {"CallSid": self.call_sid, "From": self.caller, "To": "+842873009999"}
        return self._post("/webhooks/twilio/hotline", form)

    def post_step(self, **fields: str) -> WebhookCall:
        form = {"CallSid": self.call_sid, **fields}
        return self._post(gather_path(self.twiml), form)

    def press(self, *keys: str) -> WebhookCall:
        for key in keys:
            self.post_step(Digits=key)
        return self

    def _post(self, path: str, form: dict[str, str]) -> WebhookCall:
        response = signed_post(self.client, path, form)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/xml")
        self.twiml = response.text
        self.heard.append(spoken(response.text))
        return self

    @property
    def finished(self) -> bool:
        return "Hangup" in verbs(self.twiml)


def line_of(path: Path, needle: str) -> int:
    """The 1-based line of the first line of `path` containing `needle`."""
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in text:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)
