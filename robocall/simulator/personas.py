"""Simulated residents: how each number behaves on each call (from a YAML file).

```yaml
default: {answer: 0.6, no_answer: 0.2, busy: 0.1, machine: 0.05, failed: 0.05, seed: 1}
numbers:
  "+84912345678": [{answer: human, press: "1 2 2 2"}]   # one entry per attempt;
  "+84362345678": [no_answer]                           # the last entry repeats
  "+84987654321": [busy, {answer: human, press: "1 1", hangup_after: 3}]
  "+84389998877": [machine]
```
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import phonenumbers

from robocall.kit.yamlfile import LineDict, LineList, Problem, load, loads


class Outcome(enum.StrEnum):
    human = "human"  # answers and follows the call, pressing keys
    machine = "machine"  # voicemail answers
    no_answer = "no_answer"  # rings until the ring timeout
    busy = "busy"
    failed = "failed"  # the network cannot connect the call


# Seconds, before the time factor.
DEFAULT_RING_SECONDS = 4.0
DEFAULT_TALK_SECONDS = 1.5  # to think and press a key at a Gather, or to say something

_MIX_WORDS = {"answer": Outcome.human, **{o.value: o for o in Outcome if o is not Outcome.human}}
_ENTRY_KEYS = {"answer", "press", "say", "hangup_after", "ring", "talk"}


@dataclass(frozen=True)
class Behaviour:
    """What one resident does on one call."""

    outcome: Outcome
    press: tuple[str, ...] = ()  # keys entered at each Gather in turn; the last repeats
    say: tuple[str, ...] = ()  # speech results at each speech Gather in turn; the last repeats
    hangup_after: int | None = None  # hang up after answering this many Gathers
    ring_seconds: float = DEFAULT_RING_SECONDS
    talk_seconds: float = DEFAULT_TALK_SECONDS

    def keys_at(self, step: int) -> str:
        """The keys entered at the `step`-th Gather (0-based); "" for none."""
        return self.press[min(step, len(self.press) - 1)] if self.press else ""

    def speech_at(self, step: int) -> str:
        """What the resident says at the `step`-th speech Gather (0-based)."""
        return self.say[min(step, len(self.say) - 1)] if self.say else ""


@dataclass
class Personas:
    """Every number's behaviours, and the mix for numbers not listed."""

    mix: dict[Outcome, float] = field(
        default_factory=lambda: {
            Outcome.human: 0.6,
            Outcome.no_answer: 0.2,
            Outcome.busy: 0.1,
            Outcome.machine: 0.05,
            Outcome.failed: 0.05,
        }
    )
    seed: int = 1
    default: Behaviour = field(default_factory=lambda: Behaviour(Outcome.human, press=("1",)))
    numbers: dict[str, list[Behaviour]] = field(default_factory=dict)

    def behaviour(self, number: str, attempt: int) -> Behaviour:
        """What `number` does on its `attempt`-th call (0-based)."""
        listed = self.numbers.get(number)
        if listed:
            return listed[min(attempt, len(listed) - 1)]
        # The same seed, number and attempt always give the same outcome, in any order.
        chooser = random.Random(f"{self.seed}:{number}:{attempt}")
        outcomes = list(self.mix)
        outcome = chooser.choices(outcomes, weights=[self.mix[o] for o in outcomes])[0]
        return Behaviour(
            outcome,
            press=self.default.press,
            say=self.default.say,
            ring_seconds=self.default.ring_seconds,
            talk_seconds=self.default.talk_seconds,
        )


class PersonaFileError(ValueError):
    """A personas file that cannot be used; `problems` name the file and line."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def load_personas(path: Path) -> Personas:
    """Read a personas file; raise PersonaFileError naming each bad line."""
    data, problems = load(path)
    return _parse(data, problems, str(path))


def parse_personas(text: str, name: str = "personas.yaml") -> Personas:
    """Read personas from YAML text (tests, the API)."""
    data, problems = loads(text, name)
    return _parse(data, problems, name)


def _parse(data: Any, problems: list[Problem], name: str) -> Personas:
    if problems:
        raise PersonaFileError(problems)
    if not isinstance(data, LineDict):
        raise PersonaFileError([Problem(name, 1, "expected `default:` and `numbers:` sections")])
    personas = Personas()
    for key in data:
        if key not in {"version", "default", "numbers"}:
            problems.append(Problem(name, data.line_of(key), f"unknown section {key!r}"))
    default = data.get("default")
    if default is not None:
        _parse_default(default, personas, problems, name, data.line_of("default"))
    numbers = data.get("numbers")
    if numbers is not None:
        if not isinstance(numbers, LineDict):
            problems.append(Problem(name, data.line_of("numbers"), "`numbers` must be a mapping"))
        else:
            for raw_number, entries in numbers.items():
                line = numbers.line_of(raw_number)
                number = _e164(raw_number)
                if number is None:
                    problems.append(Problem(name, line, f"{raw_number!r} is not a phone number"))
                    continue
                items = entries if isinstance(entries, list) else [entries]
                lines = entries.item_lines if isinstance(entries, LineList) else [line] * len(items)
                behaviours = []
                for item, item_line in zip(items, lines, strict=True):
                    behaviour = _parse_entry(item, problems, name, item_line)
                    if behaviour is not None:
                        behaviours.append(behaviour)
                if not items:
                    problems.append(Problem(name, line, "give at least one behaviour"))
                personas.numbers[number] = behaviours
    if problems:
        raise PersonaFileError(sorted(problems))
    return personas


def _parse_default(
    default: Any, personas: Personas, problems: list[Problem], name: str, line: int
) -> None:
    if not isinstance(default, LineDict):
        problems.append(Problem(name, line, "`default` must be a mapping"))
        return
    mix: dict[Outcome, float] = {}
    for key, value in default.items():
        key_line = default.line_of(key)
        if key in _MIX_WORDS:
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                problems.append(Problem(name, key_line, f"`{key}` must be a share from 0 to 1"))
                continue
            mix[_MIX_WORDS[key]] = float(value)
        elif key == "seed":
            if not isinstance(value, int) or isinstance(value, bool):
                problems.append(Problem(name, key_line, "`seed` must be a whole number"))
                continue
            personas.seed = value
        elif key not in {"press", "say", "ring", "talk"}:
            known = ", ".join([*_MIX_WORDS, "seed", "press", "say", "ring", "talk"])
            problems.append(Problem(name, key_line, f"unknown key {key!r} (known: {known})"))
    if mix:
        if sum(mix.values()) <= 0:
            problems.append(Problem(name, line, "the shares of the default mix add up to 0"))
        personas.mix = mix
    extras = LineDict({k: default[k] for k in ("press", "say", "ring", "talk") if k in default})
    extras.line, extras.key_lines = default.line, default.key_lines
    extras["answer"] = "human"
    behaviour = _parse_entry(extras, problems, name, line)
    if behaviour is not None:
        # Without `press`, a resident who answers presses 1 at every question.
        personas.default = behaviour if "press" in default else _with_press(behaviour, ("1",))


def _with_press(behaviour: Behaviour, press: tuple[str, ...]) -> Behaviour:
    return Behaviour(
        behaviour.outcome,
        press=press,
        say=behaviour.say,
        hangup_after=behaviour.hangup_after,
        ring_seconds=behaviour.ring_seconds,
        talk_seconds=behaviour.talk_seconds,
    )


def _parse_entry(item: Any, problems: list[Problem], name: str, line: int) -> Behaviour | None:
    if isinstance(item, str):
        try:
            return Behaviour(_MIX_WORDS.get(item) or Outcome(item))
        except ValueError:
            words = ", ".join(o.value for o in Outcome)
            problems.append(Problem(name, line, f"unknown behaviour {item!r} (known: {words})"))
            return None
    if not isinstance(item, LineDict):
        problems.append(Problem(name, line, "a behaviour is a word or a mapping"))
        return None
    before = len(problems)
    for key in item:
        if key not in _ENTRY_KEYS:
            known = ", ".join(sorted(_ENTRY_KEYS))
            problems.append(Problem(name, item.line_of(key), f"unknown key {key!r} ({known})"))
    answer = item.get("answer", "human")
    if answer not in ("human", "machine"):
        problems.append(Problem(name, item.line_of("answer"), "`answer` is human or machine"))
    press = _words(item.get("press"), "press", item, problems, name)
    say = _phrases(item.get("say"), item, problems, name)
    hangup_after = item.get("hangup_after")
    if hangup_after is not None and (not isinstance(hangup_after, int) or hangup_after < 0):
        problems.append(
            Problem(name, item.line_of("hangup_after"), "`hangup_after` is a number of steps")
        )
    ring = _seconds(item, "ring", DEFAULT_RING_SECONDS, problems, name)
    talk = _seconds(item, "talk", DEFAULT_TALK_SECONDS, problems, name)
    if len(problems) > before:
        return None
    return Behaviour(
        Outcome(answer),
        press=press,
        say=say,
        hangup_after=hangup_after,
        ring_seconds=ring,
        talk_seconds=talk,
    )


def _words(
    value: Any, key: str, item: LineDict, problems: list[Problem], name: str
) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    parts = value.split() if isinstance(value, str) else value
    if not isinstance(parts, list) or not all(isinstance(p, str | int) for p in parts):
        problems.append(Problem(name, item.line_of(key), f"`{key}` is keys separated by spaces"))
        return ()
    keys = tuple(str(p) for p in parts)
    for keys_at_step in keys:
        if any(ch not in "0123456789*#w" for ch in keys_at_step):
            problems.append(
                Problem(name, item.line_of(key), f"`{key}`: {keys_at_step!r} is not phone keys")
            )
    return keys


def _phrases(value: Any, item: LineDict, problems: list[Problem], name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    problems.append(Problem(name, item.line_of("say"), "`say` is a phrase or a list of phrases"))
    return ()


def _seconds(item: LineDict, key: str, default: float, problems: list[Problem], name: str) -> float:
    value = item.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        problems.append(Problem(name, item.line_of(key), f"`{key}` is a number of seconds"))
        return default
    return float(value)


def _e164(raw: Any) -> str | None:
    text = str(raw).strip()
    if text.isdigit() and text.startswith("84"):
        # An unquoted +84... key reads as a YAML number.
        text = "+" + text
    try:
        parsed = phonenumbers.parse(text, "VN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
