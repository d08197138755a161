"""The flow engine: (flow, session state, caller input) → (call script, new state, effects,
answers).

Pure: no database, no network, no clock of its own. The webhook loads the session state,
calls `start` or `advance`, stores the new state and answers in the same transaction, and
performs the effects (reports, escalation, SMS, opt-out, wrong number) through the services,
slow ones as jobs after the commit. So any web worker can serve any step of any call.

The conventions every flow shares: 1 = yes and 2 = no; 9 at any question asks to stop
calling (confirmed with 1 before it counts); * repeats the question.
"""

from __future__ import annotations

import datetime as dt
import logging
import marshal
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from jinja2 import Template, TemplateError

from robocall.ivr.flow import (
    ENV,
    OPTOUT_KEY,
    REPEAT_KEY,
    SAY_LANGUAGES,
    Flow,
    Node,
    Text,
)
from robocall.kit.text import syllables
from robocall.telephony.voice import CallScript

log = logging.getLogger(__name__)


class Question(Protocol):
    """A question the hotline answers (the FAQ is handed in; the engine only asks it)."""

    @property
    def id(self) -> str: ...

    def answer(self, language: str) -> str: ...

    def title(self, language: str) -> str: ...


class Questions(Protocol):
    """The answers a flow's `faq` question draws on: by menu key, or from what was said."""

    def by_id(self, question_id: str) -> Question | None: ...

    def match(self, text: str) -> QuestionMatch | None: ...


class QuestionMatch(Protocol):
    @property
    def question(self) -> Question: ...


# Nodes run in one step without waiting for the caller; a guard against a runaway script.
MAX_NODES_PER_STEP = 200

EFFECT_KINDS = ("create_report", "escalate", "send_sms", "opt_out", "mark_wrong_number")


@dataclass(frozen=True)
class CallInput:
    """What the provider posted after a question, recording or transfer."""

    digits: str = ""
    speech: str = ""
    confidence: float | None = None  # speech recogniser's confidence, 0–1
    recording_url: str = ""
    recording_seconds: int = 0
    dial_status: str = ""


@dataclass(frozen=True)
class Effect:
    """Something the caller of the engine must do (in the transaction, or as a job after it)."""

    kind: str  # one of EFFECT_KINDS
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    node: str  # the question's node name
    question: str  # the question as spoken, for staff reading the answers
    key: str | None  # keys pressed
    speech: str | None  # what the recogniser heard
    value: str  # the meaning: yes/no, a choice value, a number, a recording URL, a FAQ id


@dataclass
class StepResult:
    script: CallScript  # what the call does next, for the provider to render
    state: dict[str, Any]
    effects: list[Effect]
    answers: list[Answer]

    @property
    def finished(self) -> bool:
        return bool(self.state.get("finished"))


@dataclass(frozen=True)
class Situation:
    """What the engine may know about the call besides its state."""

    context: dict[str, Any]  # the contact fields the flow declared (name, household_names …)
    now: dt.datetime
    action_url: str  # absolute URL of the step webhook; `?step=N` is appended
    faq: Questions | None = None
    zone: str = "Asia/Ho_Chi_Minh"
    caller_phone: str = ""
    duty_phone: str | None = None  # the duty doctor for `transfer: duty`
    # Or how to find that number, asked only when a call reaches such a transfer.
    duty_lookup: Callable[[], str | None] | None = None
    caller_id: str | None = None

    def duty_number(self) -> str | None:
        """The duty doctor's number for this call, if one is on duty."""
        return self.duty_lookup() if self.duty_lookup is not None else self.duty_phone


def new_state(language: str = "vi") -> dict[str, Any]:
    """The state of a call before its first step."""
    return {
        "node": None,
        "waiting": None,  # question | optout_confirm | record | transfer
        "tries": 0,
        "step": 0,
        "values": {},
        "vars": {},
        "symptoms": [],
        "temperature": None,
        "spo2": None,
        "recordings": [],
        "urgent": False,
        "urgent_reasons": [],
        "reported": False,
        "language": language if language in SAY_LANGUAGES else "vi",
        "finished": False,
        "outcome": None,
    }


def _copy(state: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a session state (JSON values only), so the caller's stays unchanged."""
    copied: dict[str, Any] = marshal.loads(marshal.dumps(state))
    return copied


@lru_cache(maxsize=4096)
def _template(source: str) -> Template:
    return ENV.from_string(source)


@lru_cache(maxsize=1024)
def _expression(source: str) -> Callable[..., Any]:
    return ENV.compile_expression(source)


class _Step:
    """One engine step over a copy of the state."""

    def __init__(self, flow: Flow, state: dict[str, Any], situation: Situation) -> None:
        self.flow = flow
        self.state = state
        self.situation = situation
        self.out = CallScript()
        self.effects: list[Effect] = []
        self.answers: list[Answer] = []

    # --- rendering -----------------------------------------------------------------------

    @property
    def language(self) -> str:
        return str(self.state.get("language") or "vi")

    def variables(self) -> dict[str, Any]:
        names: dict[str, Any] = dict(self.flow.unset_names)
        names.update({k: v for k, v in self.situation.context.items() if k in self.flow.variables})
        names.update(self.state["values"])
        names.update(self.state["vars"])
        local = self.situation.now.astimezone(ZoneInfo(self.situation.zone))
        names.update(
            today=local.date(),
            office_hours=self._in_office_hours(local),
            spo2_threshold=self.flow.spo2_threshold,
            caller_phone=self.situation.caller_phone,
            language=self.language,
            urgent=bool(self.state["urgent"]),
        )
        return names

    def _in_office_hours(self, local: dt.datetime) -> bool:
        hours = self.flow.office_hours
        if hours is None:
            return True
        return local.isoweekday() in hours.weekdays and hours.start <= local.time() < hours.end

    def render(self, text: Text | None, **extra: Any) -> str:
        if text is None:
            return ""
        source = text.for_language(self.language)
        if "{" not in source:  # most texts name nobody: nothing to fill in
            return source.strip()
        return _template(source).render(**self.variables(), **extra).strip()

    def message(self, name: str, **extra: Any) -> str:
        return self.render(self.flow.messages.get(name), **extra)

    @property
    def voice(self) -> str:
        return self.flow.voices.get(self.language, self.flow.voices["vi"])

    @property
    def say_language(self) -> str:
        return SAY_LANGUAGES[self.language]

    def say(self, text: str) -> None:
        self.out.say(text, voice=self.voice, language=self.say_language)

    def audio_of(self, node: Node) -> str | None:
        """The recording to play for this node in the caller's language, if any."""
        if not node.audio:
            return None
        return node.audio.get(self.language, node.audio["vi"])

    def say_or_play(self, node: Node) -> None:
        audio = self.audio_of(node)
        if audio:
            self.out.play(audio)
        else:
            self.say(self.render(node.text))

    def action(self) -> str:
        separator = "&" if "?" in self.situation.action_url else "?"
        return f"{self.situation.action_url}{separator}step={self.state['step']}"

    def finish(self, outcome: str) -> None:
        self.out.hangup()
        self.state.update(finished=True, node=None, waiting=None)
        if not self.state.get("outcome"):
            self.state["outcome"] = outcome

    # --- running the script --------------------------------------------------------------

    def run_from(self, name: str | None) -> None:
        """Run nodes from `name` until one waits for the caller or the call ends."""
        for _ in range(MAX_NODES_PER_STEP):
            if name is None:
                self.finish("completed")
                return
            node = self.flow.nodes[name]
            following = self.run_node(node)
            if self.state["finished"] or self.state["waiting"]:
                return
            name = following
        log.error(
            "flow %s ran %d nodes without waiting; ending", self.flow.name, MAX_NODES_PER_STEP
        )
        self.say(self.message("technical_problem"))
        self.finish("technical_problem")

    def run_node(self, node: Node) -> str | None:
        kind = node.kind
        if kind == "say":
            self.say_or_play(node)
        elif kind == "play":
            self.out.play(self.audio_of(node) or "")
        elif kind == "set":
            scope = self.variables()
            for key, source in node.values.items():
                self.state["vars"][key] = _plain(_expression(source)(**scope))
        elif kind == "branch":
            scope = self.variables()
            for case in node.cases:
                if _expression(case.when)(**scope):
                    return case.next
            return node.default
        elif kind == "report":
            self.state["reported"] = True
            self.effects.append(Effect("create_report", self.report_data(node.report_kind)))
        elif kind == "escalate":
            self.state["urgent"] = True
            if node.reason and node.reason not in self.state["urgent_reasons"]:
                self.state["urgent_reasons"].append(node.reason)
            data = self.report_data("symptoms")
            data["reason"] = node.reason
            self.effects.append(Effect("escalate", data))
        elif kind == "sms":
            body = self.render(node.text)
            self.effects.append(
                Effect(
                    "send_sms",
                    {"to": self.situation.caller_phone, "body": body, "template": node.template},
                )
            )
        elif kind == "optout":
            if node.text:
                self.say(self.render(node.text))
            self.effects.append(Effect("opt_out", {"phone": self.situation.caller_phone}))
            self.state["outcome"] = "opted_out"
        elif kind == "hangup":
            if node.text or node.audio:
                self.say_or_play(node)
            self.finish("completed")
            return None
        elif kind in ("ask", "record", "transfer"):
            self.wait_at(node)
            return None
        return node.next

    def report_data(self, kind: str) -> dict[str, Any]:
        return report_data(self.state, kind)

    def wait_at(self, node: Node, *, before: list[str] | None = None) -> None:
        """Ask (or re-ask) the question at `node`; `before` are notes said first."""
        self.state["step"] += 1
        self.state["node"] = node.name
        prompts: list[tuple[str, str | None]] = [(text, None) for text in before or []]
        if node.kind == "record":
            self.state["waiting"] = "record"
            for text, _ in prompts:
                self.say(text)
            self.say(self.render(node.text))
            self.out.record(action=self.action(), max_seconds=node.max_seconds)
            return
        if node.kind == "transfer":
            self.state["waiting"] = "transfer"
            number = node.to if node.to != "duty" else self.situation.duty_number()
            if not number:
                # Nobody on duty is configured: behave as an unanswered transfer.
                self.state["waiting"] = None
                self.answers.append(Answer(node.name, "", None, None, "no_duty_number"))
                self.run_from(node.fallback)
                return
            if node.text:
                self.say(self.render(node.text))
            self.out.dial(
                number=number,
                action=self.action(),
                timeout=node.timeout,
                caller_id=self.situation.caller_id,
            )
            return
        self.state["waiting"] = "question"
        prompts.append((self.render(node.text), self.audio_of(node)))
        if node.input == "faq" and self.situation.faq is not None:
            for key, question_id in sorted(node.faq_menu.items()):
                question = self.situation.faq.by_id(question_id)
                if question is not None:
                    title = question.title(self.language)
                    prompts.append((self.message("faq_menu_item", key=key, title=title), None))
        self.out.gather(
            action=self.action(),
            prompts=prompts,
            voice=self.voice,
            language=self.say_language,
            timeout=node.timeout,
            num_digits=None if node.input == "number" else 1,
            finish_on_key="#" if node.input == "number" else None,
            speech=node.input in ("speech", "faq"),
        )

    def ask_optout_confirmation(self, node: Node) -> None:
        self.state["step"] += 1
        self.state["waiting"] = "optout_confirm"
        self.state["node"] = node.name
        self.out.gather(
            action=self.action(),
            prompts=[(self.message("optout_confirm"), None)],
            voice=self.voice,
            language=self.say_language,
            timeout=node.timeout if node.kind == "ask" else 6,
            num_digits=1,
        )

    # --- the caller's input --------------------------------------------------------------

    def handle(self, given: CallInput) -> None:
        if self.state["finished"] or not self.state["node"]:
            self.out.hangup()
            return
        node = self.flow.nodes.get(self.state["node"])
        if node is None:
            # The flow changed under a live call: end it politely rather than guess.
            self.say(self.message("technical_problem"))
            self.finish("technical_problem")
            return
        waiting = self.state["waiting"]
        if waiting == "optout_confirm":
            self.handle_optout_confirmation(node, given)
        elif waiting == "record":
            self.handle_recording(node, given)
        elif waiting == "transfer":
            self.handle_transfer(node, given)
        else:
            self.handle_answer(node, given)

    def handle_optout_confirmation(self, node: Node, given: CallInput) -> None:
        answer = given.digits.strip() or _yes_no_from_speech(given.speech)
        if answer == "1":
            question = self.message("optout_confirm")
            self.answers.append(Answer(node.name, question, "1", given.speech or None, "opt_out"))
            self.effects.append(Effect("opt_out", {"phone": self.situation.caller_phone}))
            self.say(self.message("optout_done"))
            self.state["outcome"] = "opted_out"
            self.finish("opted_out")
            return
        self.state["tries"] = 0
        self.wait_at(node, before=[self.message("optout_cancelled")])

    def handle_recording(self, node: Node, given: CallInput) -> None:
        if given.recording_url and given.recording_seconds > 0:
            self.state["recordings"].append(given.recording_url)
            self.state["values"][node.name] = given.recording_url
            question = self.render(node.text)
            self.answers.append(Answer(node.name, question, None, None, given.recording_url))
            self.leave(node.next)
            return
        self.retry_or_default(node, "no_input")

    def handle_transfer(self, node: Node, given: CallInput) -> None:
        status = given.dial_status or "no_answer"
        self.answers.append(Answer(node.name, "transfer", None, None, status))
        self.leave(node.next if status == "completed" else node.fallback)

    def handle_answer(self, node: Node, given: CallInput) -> None:
        digits = given.digits.strip().rstrip("#")
        speech = given.speech.strip()
        if digits == REPEAT_KEY:
            self.wait_at(node)
            return
        if digits == OPTOUT_KEY:
            self.ask_optout_confirmation(node)
            return
        if not digits and not speech:
            self.retry_or_default(node, "no_input")
            return
        question = self.render(node.text)
        if node.input == "number":
            number = _read_number(digits, node)
            if number is None:
                self.retry_or_default(node, "wrong_key", key=digits)
                return
            value = _plain(number)
            self.record_answer(node, question, digits, None, str(value), value)
            if node.measure in ("temperature", "spo2"):
                self.state[node.measure] = value
            self.leave(node.next)
            return
        if node.input == "faq":
            self.handle_faq(node, question, digits, speech)
            return
        choice = node.choices.get(digits) if digits else _choice_from_speech(node, speech)
        if choice is None:
            self.retry_or_default(node, "wrong_key", key=digits, speech=speech)
            return
        self.record_answer(node, question, digits or None, speech or None, choice.value)
        if node.symptom and choice.value == "yes" and node.symptom not in self.state["symptoms"]:
            self.state["symptoms"].append(node.symptom)
        if node.confirms_person and choice.value == "no":
            self.effects.append(Effect("mark_wrong_number", {"phone": self.situation.caller_phone}))
            self.state["outcome"] = "wrong_number"
        self.leave(choice.next)

    def handle_faq(self, node: Node, question: str, digits: str, speech: str) -> None:
        faq = self.situation.faq
        found: Question | None = None
        if faq is not None:
            if digits:
                found = faq.by_id(node.faq_menu.get(digits, ""))
                if found is None:
                    self.retry_or_default(node, "wrong_key", key=digits)
                    return
            else:
                match = faq.match(speech)
                found = match.question if match is not None else None
        if found is None:
            self.record_answer(node, question, digits or None, speech or None, "")
            self.leave(node.not_understood, before=[self.message("not_understood")])
            return
        self.record_answer(node, question, digits or None, speech or None, found.id)
        self.say(found.answer(self.language))
        self.leave(node.next)

    def record_answer(
        self,
        node: Node,
        question: str,
        key: str | None,
        speech: str | None,
        value: str,
        stored: Any = None,
    ) -> None:
        self.state["values"][node.name] = value if stored is None else stored
        self.answers.append(Answer(node.name, question, key, speech, value))

    def retry_or_default(
        self, node: Node, why: str, *, key: str | None = None, speech: str | None = None
    ) -> None:
        self.state["tries"] += 1
        if key or speech:
            # A wrong key is still something the caller said: keep it with the question.
            self.answers.append(Answer(node.name, self.render(node.text), key, speech, ""))
        if self.state["tries"] <= node.retries:
            self.wait_at(node, before=[self.message(why)])
            return
        self.state["values"].setdefault(node.name, None)
        if node.default is None:
            self.state["outcome"] = "no_input"
        self.leave(node.default, before=[] if node.default else [self.message("goodbye")])

    def leave(self, target: str | None, *, before: list[str] | None = None) -> None:
        self.state.update(node=None, waiting=None, tries=0)
        for text in before or []:
            self.say(text)
        self.run_from(target)


def report_data(state: dict[str, Any], kind: str) -> dict[str, Any]:
    """What a report made from this call holds so far."""
    return {
        "kind": kind,
        "symptoms": list(state["symptoms"]),
        "temperature": state["temperature"],
        "spo2": state["spo2"],
        "answers": dict(state["values"]),
        "recordings": list(state["recordings"]),
        "urgent": bool(state["urgent"]),
        "urgent_reasons": list(state["urgent_reasons"]),
    }


def _plain(value: Any) -> Any:
    """A value as JSON can store it."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


def _read_number(digits: str, node: Node) -> float | None:
    """Keys to a measurement: temperature 37 or 375 (= 37.5 °C); SpO2 96 (%)."""
    if not (digits.isascii() and digits.isdigit()) or not 2 <= len(digits) <= 3:
        return None
    number = float(digits)
    if node.measure == "temperature" and len(digits) == 3:
        number = number / 10
    low = node.minimum if node.minimum is not None else 0.0
    high = node.maximum if node.maximum is not None else 999.0
    return number if low <= number <= high else None


def _yes_no_from_speech(speech: str) -> str:
    words = syllables(speech)
    if "không" in words or "sai" in words:
        return "2"
    if {"có", "vâng", "đúng", "đồng", "ý"} & set(words):
        return "1"
    return ""


def _choice_from_speech(node: Node, speech: str) -> Any:
    """The choice whose words the caller said first ("không có" is no, "có ạ" is yes)."""
    if not speech:
        return None
    words = syllables(speech)
    best: tuple[int, Any] | None = None
    for choice in node.choices.values():
        for word in choice.words:
            phrase = syllables(word)
            for position in range(len(words) - len(phrase) + 1):
                if words[position : position + len(phrase)] == phrase:
                    if best is None or position < best[0]:
                        best = (position, choice)
                    break
    return best[1] if best else None


def start(flow: Flow, *, situation: Situation, language: str = "vi") -> StepResult:
    """Answer a new call: run the flow from its start until the first question."""
    state = new_state(language)
    step = _Step(flow, state, situation)
    _guarded(step, lambda: step.run_from(flow.start))
    return StepResult(step.out, step.state, step.effects, step.answers)


def advance(
    flow: Flow, state: dict[str, Any], given: CallInput, *, situation: Situation
) -> StepResult:
    """Take the caller's input at the waiting node and run on to the next wait."""
    step = _Step(flow, _copy(state), situation)
    _guarded(step, lambda: step.handle(given))
    return StepResult(step.out, step.state, step.effects, step.answers)


def hang_up(flow: Flow, state: dict[str, Any]) -> tuple[dict[str, Any], list[Effect]]:
    """The caller hung up: keep what was said. A report flow left midway still reports."""
    new = _copy(state)
    effects: list[Effect] = []
    if not new["finished"]:
        new.update(finished=True, waiting=None, node=None)
        new["outcome"] = new.get("outcome") or "hung_up"
        report_kinds = [n.report_kind for n in flow.nodes.values() if n.kind == "report"]
        has_answers = any(v is not None for v in new["values"].values())
        if report_kinds and has_answers and not new["reported"] and new["outcome"] == "hung_up":
            data = report_data(new, report_kinds[0])
            data["partial"] = True
            new["reported"] = True
            effects.append(Effect("create_report", data))
    return new, effects


def _guarded(step: _Step, action: Callable[[], None]) -> None:
    """Run a step; a broken text or condition ends the call politely, never a 500."""
    try:
        action()
    except (TemplateError, TypeError, ValueError, KeyError) as exc:
        log.exception("flow %s failed at node %s: %s", step.flow.name, step.state["node"], exc)
        step.out = CallScript()
        try:
            step.say(step.message("technical_problem"))
        except TemplateError:
            pass
        step.finish("technical_problem")
