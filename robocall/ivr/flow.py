"""IVR flow definitions: what a flow is once `ivr_flows/*.yaml` is parsed (see parser.py).

A flow file (`kind: flow`) names a start node and a mapping of nodes; texts are sandboxed
Jinja2 templates in Vietnamese, optionally English.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

NODE_KINDS = (
    "say",
    "play",
    "ask",
    "record",
    "branch",
    "set",
    "report",
    "escalate",
    "transfer",
    "sms",
    "optout",
    "hangup",
)
ASK_INPUTS = ("keypad", "speech", "number", "faq")
NUMBER_MEASURES = ("temperature", "spo2")
REPORT_KINDS = ("symptoms", "declaration", "message")
LANGUAGES = ("vi", "en")
DEFAULT_VOICES = {"vi": "Google.vi-VN-Standard-A", "en": "Google.en-US-Standard-C"}
SAY_LANGUAGES = {"vi": "vi-VN", "en": "en-US"}
# Keys every question reserves, the same in every flow so residents learn them once.
OPTOUT_KEY = "9"
REPEAT_KEY = "*"
CHOICE_KEYS = ("0", "1", "2", "3", "4", "5", "6", "7", "8")
# Variables every template and condition may use, filled by the engine.
BUILTIN_VARIABLES = frozenset(
    {"today", "office_hours", "spo2_threshold", "caller_phone", "language", "urgent"}
)


def _names_filter(value: Any) -> str:
    """Household names as one phrase: "An, Bình, Chi"."""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value if v)
    return "" if value is None else str(value)


def _vi_date(value: Any) -> str:
    """A date as spoken in Vietnamese: "ngày 30 tháng 11"."""
    day = _as_date(value)
    return f"ngày {day.day} tháng {day.month}" if day else str(value)


def _en_date(value: Any) -> str:
    """A date as spoken in English: "30 November"."""
    day = _as_date(value)
    return f"{day.day} {day.strftime('%B')}" if day else str(value)


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def make_environment() -> SandboxedEnvironment:
    """The sandboxed Jinja2 environment for flow texts and conditions."""
    from jinja2 import StrictUndefined

    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    env.filters["names"] = _names_filter
    env.filters["vi_date"] = _vi_date
    env.filters["en_date"] = _en_date
    return env


ENV = make_environment()


@dataclass
class Text:
    """A spoken text: Vietnamese always, English optionally; Jinja2 templates."""

    vi: str
    en: str | None
    line: int
    variables: frozenset[str] = frozenset()

    def for_language(self, language: str) -> str:
        return self.en if language == "en" and self.en else self.vi


@dataclass
class Choice:
    key: str
    value: str
    next: str
    words: tuple[str, ...] = ()  # what a caller may say instead of pressing the key
    line: int = 0


@dataclass
class Case:
    when: str
    next: str
    line: int  # of `next:`
    variables: frozenset[str] = frozenset()
    when_line: int = 0


@dataclass
class Node:
    """One step of a flow. Which fields matter depends on `kind`."""

    name: str
    kind: str
    line: int
    text: Text | None = None
    next: str | None = None
    key_lines: dict[str, int] = field(default_factory=dict)
    # ask
    input: str = "keypad"
    choices: dict[str, Choice] = field(default_factory=dict)
    retries: int = 2
    timeout: int = 6  # seconds of silence before the question counts as unanswered
    default: str | None = None
    confirms_person: bool = False
    symptom: str | None = None  # the symptom a "yes" to this question reports
    measure: str | None = None  # number questions: temperature (°C) or spo2 (%)
    minimum: float | None = None
    maximum: float | None = None
    faq_menu: dict[str, str] = field(default_factory=dict)  # key → FAQ question id
    not_understood: str | None = None
    # play
    audio: dict[str, str] = field(default_factory=dict)  # language → audio URL
    # record
    max_seconds: int = 60
    # branch
    cases: list[Case] = field(default_factory=list)
    # set
    values: dict[str, str] = field(default_factory=dict)
    value_variables: frozenset[str] = frozenset()
    # report / escalate
    report_kind: str = "symptoms"
    reason: str | None = None
    # transfer
    to: str | None = None  # "duty" (the caller's unit's duty doctor) or an E.164 number
    fallback: str | None = None
    # sms
    template: str | None = None

    def targets(self) -> list[tuple[str, int]]:
        """Every node this node may lead to, with the line that names it."""
        found: list[tuple[str, int]] = []
        for attr in ("next", "default", "fallback", "not_understood"):
            target = getattr(self, attr)
            if target:
                found.append((target, self.key_lines.get(attr, self.line)))
        for choice in self.choices.values():
            found.append((choice.next, choice.line))
        for case in self.cases:
            found.append((case.next, case.line))
        return found

    @property
    def waits_for_caller(self) -> bool:
        return self.kind in ("ask", "record", "transfer")


@dataclass
class OfficeHours:
    weekdays: frozenset[int]  # ISO weekdays, 1 = Monday
    start: dt.time
    end: dt.time


@dataclass
class Flow:
    name: str
    file: str
    direction: str  # outbound | inbound
    start: str
    nodes: dict[str, Node]
    variables: frozenset[str]  # contact fields the flow expects in its context
    voices: dict[str, str]
    messages: dict[str, Text]
    office_hours: OfficeHours | None
    spo2_threshold: int
    version: str  # a digest of the file, stored with each call session
    title: Text | None = None

    def node(self, name: str) -> Node:
        return self.nodes[name]

    @cached_property
    def unset_names(self) -> dict[str, None]:
        """Every name a text may use that has no value until the call gives one."""
        names: dict[str, None] = dict.fromkeys(self.variables)
        for node in self.nodes.values():
            if node.kind in ("ask", "record"):
                names[node.name] = None
            names.update(dict.fromkeys(node.values))
        return names

    def known_variables(self) -> frozenset[str]:
        """Names a template may use: context fields, answers, set values, built-ins."""
        names = set(self.variables) | BUILTIN_VARIABLES
        for node in self.nodes.values():
            if node.kind in ("ask", "record"):
                names.add(node.name)
            names.update(node.values)
        return frozenset(names)


# Messages every flow needs for the shared conventions; `conventions.yaml` gives the
# wording, a flow's `messages:` may override any of them.
CONVENTION_MESSAGES = (
    "no_input",
    "wrong_key",
    "optout_confirm",
    "optout_done",
    "optout_cancelled",
    "not_understood",
    "goodbye",
    "technical_problem",
    "faq_menu_item",
)
# Variables a convention message may use beyond the built-ins (the FAQ menu's key and title).
MESSAGE_VARIABLES = {"faq_menu_item": frozenset({"key", "title"})}
