"""Parsing `ivr_flows/*.yaml` flow files into Flow objects, with every problem as file:line.

Parsing never raises: it returns what it could build and the problems found, so
`robocall content check` and the runtime loader share one set of rules (`checks.py` adds the
checks that need the whole graph).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from jinja2 import TemplateSyntaxError, meta, nodes

from robocall.ivr.flow import (
    ASK_INPUTS,
    BUILTIN_VARIABLES,
    CHOICE_KEYS,
    CONVENTION_MESSAGES,
    DEFAULT_VOICES,
    ENV,
    LANGUAGES,
    MESSAGE_VARIABLES,
    NODE_KINDS,
    NUMBER_MEASURES,
    OPTOUT_KEY,
    REPORT_KINDS,
    Case,
    Choice,
    Flow,
    Node,
    OfficeHours,
    Text,
)
from robocall.kit.text import nfc
from robocall.kit.yamlfile import LineDict, LineList, Problem

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class _Parser:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.file, line, message))

    def text(self, raw: Any, line: int, where: str) -> Text | None:
        if isinstance(raw, str):
            return self._template_text(nfc(raw), None, line, where)
        if not isinstance(raw, LineDict):
            self.problem(line, f"{where}: a text is a string or a mapping with `vi:` and `en:`")
            return None
        for key in raw:
            if key not in LANGUAGES:
                self.problem(raw.line_of(key), f"{where}: unknown language {key!r} (vi, en)")
        vi = raw.get("vi")
        if not isinstance(vi, str) or not vi.strip():
            self.problem(raw.line, f"{where}: the Vietnamese text `vi:` is missing")
            return None
        en = raw.get("en")
        if en is not None and not isinstance(en, str):
            self.problem(raw.line_of("en"), f"{where}: `en:` must be text")
            en = None
        return self._template_text(nfc(vi), en, raw.line, where, raw)

    def _template_text(
        self, vi: str, en: str | None, line: int, where: str, raw: LineDict | None = None
    ) -> Text | None:
        variables: set[str] = set()
        for language, source in (("vi", vi), ("en", en)):
            if source is None:
                continue
            at = raw.line_of(language) if raw is not None else line
            try:
                parsed = ENV.parse(source)
            except TemplateSyntaxError as exc:
                self.problem(at + max(exc.lineno - 1, 0), f"{where}: template: {exc.message}")
                return None
            variables |= meta.find_undeclared_variables(parsed)
        return Text(vi=vi, en=en, line=line, variables=frozenset(variables))

    def expression_variables(self, source: str, line: int, where: str) -> frozenset[str] | None:
        try:
            parsed = ENV.parse("{{ " + source + " }}")
        except TemplateSyntaxError as exc:
            self.problem(line, f"{where}: condition: {exc.message}")
            return None
        # Names bound by the expression itself (loop variables) are not free.
        bound = {n.name for n in parsed.find_all(nodes.Name) if n.ctx == "store"}
        return frozenset(meta.find_undeclared_variables(parsed) - bound)


def _int(p: _Parser, raw: LineDict, key: str, default: int, low: int, high: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        p.problem(raw.line_of(key), f"`{key}` must be a whole number from {low} to {high}")
        return default
    return value


def _target(p: _Parser, raw: LineDict, key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        p.problem(raw.line_of(key), f"{where}: `{key}` must name a node")
        return None
    return value


_COMMON_KEYS = {"kind", "text", "next"}
_KIND_KEYS: dict[str, set[str]] = {
    "say": {"audio"},
    "play": {"audio"},
    "ask": {
        "audio",
        "input",
        "choices",
        "yes",
        "no",
        "True",
        "False",
        "retries",
        "timeout",
        "default",
        "confirms_person",
        "symptom",
        "measure",
        "min",
        "max",
        "menu",
        "not_understood",
    },
    "record": {"max_seconds", "retries", "default"},
    "branch": {"cases", "default"},
    "set": {"values"},
    "report": {"report"},
    "escalate": {"reason"},
    "transfer": {"to", "timeout", "fallback"},
    "sms": {"template"},
    "optout": set(),
    "hangup": {"audio"},
}


def _parse_node(p: _Parser, name: str, raw: Any, line: int) -> Node | None:
    where = f"node {name!r}"
    if not isinstance(raw, LineDict):
        p.problem(line, f"{where}: a node is a mapping with `kind:`")
        return None
    kind = raw.get("kind")
    if kind not in NODE_KINDS:
        p.problem(
            raw.line_of("kind"),
            f"{where}: unknown node kind {kind!r} (known: {', '.join(NODE_KINDS)})",
        )
        return None
    allowed = _COMMON_KEYS | _KIND_KEYS[kind]
    for key in raw:
        if key not in allowed:
            p.problem(raw.line_of(key), f"{where}: `{key}` is not used by a {kind} node")
    node = Node(name=name, kind=kind, line=line, key_lines=dict(raw.key_lines))
    if "text" in raw:
        node.text = p.text(raw["text"], raw.line_of("text"), where)
    elif kind in ("say", "ask", "record", "sms"):
        p.problem(raw.line, f"{where}: a {kind} node needs `text:`")
    node.next = _target(p, raw, "next", where)
    node.default = _target(p, raw, "default", where)
    # A recording of the text, played instead of the synthesised voice (the text stays as
    # the transcript staff read and the question stored with each answer).
    if "audio" in raw or kind == "play":
        audio = raw.get("audio")
        if isinstance(audio, str):
            node.audio = {"vi": audio}
        elif isinstance(audio, LineDict) and isinstance(audio.get("vi"), str):
            node.audio = {k: str(v) for k, v in audio.items() if k in LANGUAGES}
        else:
            p.problem(raw.line_of("audio"), f"{where}: `audio:` needs a URL (or vi:/en: URLs)")
    if kind == "ask":
        _parse_ask(p, node, raw, where)
    elif kind == "record":
        node.max_seconds = _int(p, raw, "max_seconds", 60, 5, 600)
        node.retries = _int(p, raw, "retries", 1, 0, 5)
    elif kind == "branch":
        _parse_branch(p, node, raw, where)
    elif kind == "set":
        values = raw.get("values")
        if not isinstance(values, LineDict) or not values:
            p.problem(raw.line_of("values"), f"{where}: `values:` maps names to expressions")
        else:
            used: set[str] = set()
            for key, expression in values.items():
                if not _NAME.match(key):
                    p.problem(values.line_of(key), f"{where}: {key!r} is not a valid name")
                found = p.expression_variables(str(expression), values.line_of(key), where)
                used |= found or set()
                node.values[key] = str(expression)
            node.value_variables = frozenset(used)
    elif kind == "report":
        report = raw.get("report", "symptoms")
        if report not in REPORT_KINDS:
            p.problem(
                raw.line_of("report"),
                f"{where}: `report:` must be one of {', '.join(REPORT_KINDS)}",
            )
        else:
            node.report_kind = report
    elif kind == "escalate":
        reason = raw.get("reason")
        if not isinstance(reason, str) or not _NAME.match(reason):
            p.problem(raw.line_of("reason"), f"{where}: `reason:` is a word such as low_spo2")
        else:
            node.reason = reason
    elif kind == "transfer":
        to = raw.get("to")
        if not isinstance(to, str) or not (to == "duty" or re.fullmatch(r"\+\d{8,15}", to)):
            p.problem(raw.line_of("to"), f"{where}: `to:` is `duty` or an E.164 number")
        else:
            node.to = to
        node.timeout = _int(p, raw, "timeout", 20, 5, 120)
        node.fallback = _target(p, raw, "fallback", where)
        if node.fallback is None:
            p.problem(raw.line, f"{where}: a transfer needs `fallback:` for when nobody answers")
    elif kind == "sms":
        template = raw.get("template")
        if template is not None and not isinstance(template, str):
            p.problem(raw.line_of("template"), f"{where}: `template:` names an SMS template")
        node.template = template
    return node


def _parse_ask(p: _Parser, node: Node, raw: LineDict, where: str) -> None:
    node.input = raw.get("input", "keypad")
    if node.input not in ASK_INPUTS:
        p.problem(raw.line_of("input"), f"{where}: `input:` must be one of {', '.join(ASK_INPUTS)}")
        node.input = "keypad"
    node.retries = _int(p, raw, "retries", 2, 0, 5)
    node.timeout = _int(p, raw, "timeout", 6, 2, 30)
    node.confirms_person = bool(raw.get("confirms_person", False))
    symptom = raw.get("symptom")
    if symptom is not None:
        if not isinstance(symptom, str) or not _NAME.match(symptom):
            p.problem(raw.line_of("symptom"), f"{where}: `symptom:` is a word such as fever")
        else:
            node.symptom = symptom
    node.not_understood = _target(p, raw, "not_understood", where)
    # YAML 1.1 reads a bare `yes:`/`no:` key as a boolean; both spellings mean the same.
    yes_key = next((k for k in ("yes", "True") if k in raw), None)
    no_key = next((k for k in ("no", "False") if k in raw), None)
    if yes_key or no_key:
        if "choices" in raw:
            p.problem(raw.line_of("choices"), f"{where}: use either `yes:`/`no:` or `choices:`")
        for key, value, raw_key in (("1", "yes", yes_key), ("2", "no", no_key)):
            target = _target(p, raw, raw_key, where) if raw_key else None
            if target is None or raw_key is None:
                p.problem(raw.line, f"{where}: a yes/no question needs both `yes:` and `no:`")
                continue
            words = ("có", "vâng", "đúng", "phải") if value == "yes" else ("không", "sai")
            node.choices[key] = Choice(key, value, target, words, raw.line_of(raw_key))
    elif "choices" in raw:
        _parse_choices(p, node, raw, where)
    if node.input in ("keypad", "speech") and not node.choices:
        p.problem(raw.line, f"{where}: a {node.input} question needs `yes:`/`no:` or `choices:`")
    if node.input == "number":
        if node.choices:
            p.problem(raw.line, f"{where}: a number question has no choices")
        measure = raw.get("measure")
        if measure not in NUMBER_MEASURES:
            p.problem(
                raw.line_of("measure"),
                f"{where}: `measure:` must be one of {', '.join(NUMBER_MEASURES)}",
            )
        else:
            node.measure = measure
        low, high = (34.0, 43.0) if measure == "temperature" else (50.0, 100.0)
        node.minimum = float(raw.get("min", low))
        node.maximum = float(raw.get("max", high))
        if node.next is None:
            p.problem(raw.line, f"{where}: a number question needs `next:`")
    if node.input == "faq":
        menu = raw.get("menu")
        if not isinstance(menu, LineDict):
            p.problem(raw.line_of("menu"), f"{where}: `menu:` maps keys to FAQ question ids")
        else:
            for key, question in menu.items():
                if key not in CHOICE_KEYS:
                    p.problem(menu.line_of(key), f"{where}: menu key {key!r} must be 0–8")
                node.faq_menu[key] = str(question)
            node.key_lines.update({f"menu.{k}": menu.line_of(k) for k in menu})
        if node.next is None or node.not_understood is None:
            p.problem(raw.line, f"{where}: an FAQ question needs `next:` and `not_understood:`")
    elif node.input != "number" and node.next is not None:
        p.problem(raw.line_of("next"), f"{where}: a question goes on through its choices")


def _parse_choices(p: _Parser, node: Node, raw: LineDict, where: str) -> None:
    choices = raw["choices"]
    if not isinstance(choices, LineDict) or not choices:
        p.problem(raw.line_of("choices"), f"{where}: `choices:` maps keys to value and next")
        return
    for key, spec in choices.items():
        line = choices.line_of(key)
        if key == OPTOUT_KEY:
            p.problem(line, f"{where}: key 9 is kept for “stop calling me” in every flow")
            continue
        if key not in CHOICE_KEYS:
            p.problem(line, f"{where}: choice key {key!r} must be one digit 0–8")
            continue
        if not isinstance(spec, LineDict):
            p.problem(line, f"{where}: choice {key}: needs `value:` and `next:`")
            continue
        value, target = spec.get("value"), spec.get("next")
        if isinstance(value, bool):
            value = "yes" if value else "no"
        if not isinstance(value, str | int) or not isinstance(target, str):
            p.problem(line, f"{where}: choice {key}: needs `value:` and `next:`")
            continue
        words_raw = spec.get("say", [])
        words = tuple(nfc(str(w)).lower() for w in words_raw) if isinstance(words_raw, list) else ()
        node.choices[key] = Choice(key, str(value), target, words, spec.line_of("next"))


def _parse_branch(p: _Parser, node: Node, raw: LineDict, where: str) -> None:
    cases = raw.get("cases")
    if not isinstance(cases, LineList) or not cases:
        p.problem(raw.line_of("cases"), f"{where}: `cases:` is a list of `when:` and `next:`")
        return
    for item, line in zip(cases, cases.item_lines, strict=True):
        if not isinstance(item, LineDict) or not isinstance(item.get("when"), str):
            p.problem(line, f"{where}: each case needs `when:` (a condition) and `next:`")
            continue
        target = item.get("next")
        if not isinstance(target, str):
            p.problem(line, f"{where}: each case needs `when:` (a condition) and `next:`")
            continue
        variables = p.expression_variables(item["when"], item.line_of("when"), where)
        node.cases.append(
            Case(
                item["when"],
                target,
                item.line_of("next"),
                variables or frozenset(),
                item.line_of("when"),
            )
        )
    if node.default is None:
        p.problem(raw.line, f"{where}: a branch needs `default:` for when no case holds")


def _parse_office_hours(p: _Parser, raw: Any, line: int) -> OfficeHours | None:
    if raw is None:
        return None
    if not isinstance(raw, LineDict):
        p.problem(line, "`office_hours:` needs `weekdays:`, `from:` and `to:`")
        return None
    weekdays = raw.get("weekdays", [1, 2, 3, 4, 5])
    start, end = str(raw.get("from", "")), str(raw.get("to", ""))
    if not isinstance(weekdays, list) or not all(
        isinstance(d, int) and 1 <= d <= 7 for d in weekdays
    ):
        p.problem(raw.line_of("weekdays"), "`weekdays:` lists ISO weekdays, 1 = Monday … 7")
        return None
    if not _TIME.match(start) or not _TIME.match(end) or start >= end:
        p.problem(raw.line, "`from:` and `to:` are HH:MM times, from before to")
        return None
    return OfficeHours(
        frozenset(weekdays), dt.time.fromisoformat(start), dt.time.fromisoformat(end)
    )


def parse_flow(
    data: LineDict, file: str, *, conventions: dict[str, Text], version: str = ""
) -> tuple[Flow | None, list[Problem]]:
    """Build a Flow from a parsed `kind: flow` file; return it and every problem found."""
    p = _Parser(file)
    name = data.get("flow")
    if not isinstance(name, str) or not _NAME.match(name):
        p.problem(data.line_of("flow"), "`flow:` names the flow (lower case, digits, _)")
        name = "unnamed"
    direction = data.get("direction")
    if direction not in ("outbound", "inbound"):
        p.problem(data.line_of("direction"), "`direction:` must be outbound or inbound")
        direction = "outbound"
    variables_raw = data.get("variables", [])
    if not isinstance(variables_raw, list) or not all(
        isinstance(v, str) and _NAME.match(v) for v in variables_raw
    ):
        p.problem(data.line_of("variables"), "`variables:` lists contact field names")
        variables_raw = []
    voices = dict(DEFAULT_VOICES)
    voice = data.get("voice")
    if voice is not None:
        if not isinstance(voice, LineDict):
            p.problem(data.line_of("voice"), "`voice:` maps vi/en to a voice name")
        else:
            voices.update({k: str(v) for k, v in voice.items() if k in LANGUAGES})
    messages = dict(conventions)
    raw_messages = data.get("messages")
    if isinstance(raw_messages, LineDict):
        for key, raw in raw_messages.items():
            if key not in CONVENTION_MESSAGES:
                p.problem(raw_messages.line_of(key), f"unknown message {key!r}")
                continue
            text = p.text(raw, raw_messages.line_of(key), f"message {key!r}")
            if text:
                messages[key] = text
    threshold = _int(p, data, "spo2_threshold", 95, 80, 99)
    office_hours = _parse_office_hours(p, data.get("office_hours"), data.line_of("office_hours"))
    raw_nodes = data.get("nodes")
    parsed: dict[str, Node] = {}
    if not isinstance(raw_nodes, LineDict) or not raw_nodes:
        p.problem(data.line_of("nodes"), "`nodes:` maps node names to nodes")
    else:
        for node_name, raw in raw_nodes.items():
            if not _NAME.match(node_name):
                p.problem(raw_nodes.line_of(node_name), f"{node_name!r} is not a valid node name")
            node = _parse_node(p, node_name, raw, raw_nodes.line_of(node_name))
            if node is not None:
                parsed[node_name] = node
    start = data.get("start")
    if not isinstance(start, str):
        p.problem(data.line_of("start"), "`start:` names the first node")
        start = ""
    title = p.text(data["title"], data.line_of("title"), "title") if "title" in data else None
    flow = Flow(
        name=name,
        file=file,
        direction=direction,
        start=start,
        nodes=parsed,
        variables=frozenset(variables_raw),
        voices=voices,
        messages=messages,
        office_hours=office_hours,
        spo2_threshold=threshold,
        version=version,
        title=title,
    )
    for missing in CONVENTION_MESSAGES:
        if missing not in flow.messages:
            p.problem(data.line, f"message {missing!r} is missing (conventions.yaml or messages:)")
    return flow, p.problems


def parse_conventions(data: LineDict, file: str) -> tuple[dict[str, Text], list[Problem]]:
    """The shared wording of the conventions (`kind: conventions`)."""
    p = _Parser(file)
    messages: dict[str, Text] = {}
    raw = data.get("messages")
    if not isinstance(raw, LineDict):
        p.problem(data.line_of("messages"), "`messages:` maps message names to texts")
        return messages, p.problems
    for key in CONVENTION_MESSAGES:
        if key not in raw:
            p.problem(raw.line, f"message {key!r} is missing")
    for key, value in raw.items():
        if key not in CONVENTION_MESSAGES:
            p.problem(raw.line_of(key), f"unknown message {key!r}")
            continue
        text = p.text(value, raw.line_of(key), f"message {key!r}")
        if text is None:
            continue
        extra = text.variables - BUILTIN_VARIABLES - MESSAGE_VARIABLES.get(key, frozenset())
        if extra:
            p.problem(
                text.line, f"message {key!r}: undefined variable(s) {', '.join(sorted(extra))}"
            )
        messages[key] = text
    return messages, p.problems
