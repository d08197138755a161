"""Residents from the personas file: the issue's example, defaults, and errors by line."""

from __future__ import annotations

import pytest

from robocall.simulator.personas import Outcome, PersonaFileError, load_personas, parse_personas

EXAMPLE = """\
default: {answer: 0.6, no_answer: 0.2, busy: 0.1, machine: 0.05, failed: 0.05, seed: 1}
numbers:
  "+84912345678": [{answer: human, press: "1 2 2 2"}]     # one entry per attempt;
  "+84362345678": [no_answer]                             # the last entry repeats
  "+84987654321": [busy, {answer: human, press: "1 1", hangup_after: 3}]
  "+84389998877": [machine]
"""


def test_the_documented_example_reads_as_written(tmp_path):
    path = tmp_path / "personas.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    personas = load_personas(path)
    assert personas.seed == 1
    assert personas.mix[Outcome.human] == 0.6
    first = personas.behaviour("+84912345678", 0)
    assert first.outcome is Outcome.human and first.press == ("1", "2", "2", "2")
    assert [personas.behaviour("+84362345678", n).outcome for n in range(3)] == [
        Outcome.no_answer
    ] * 3
    busy_then_human = [personas.behaviour("+84987654321", n) for n in range(3)]
    assert [b.outcome for b in busy_then_human] == [Outcome.busy, Outcome.human, Outcome.human]
    assert busy_then_human[1].hangup_after == 3
    assert busy_then_human[1].keys_at(5) == "1"  # the last key is pressed again
    assert personas.behaviour("+84389998877", 0).outcome is Outcome.machine


def test_unlisted_numbers_follow_the_seeded_mix():
    personas = parse_personas("default: {answer: 0.5, busy: 0.5, seed: 3}")
    numbers = [f"+8490000000{i}" for i in range(10)]
    first = [personas.behaviour(n, 0).outcome for n in numbers]
    assert first == [personas.behaviour(n, 0).outcome for n in numbers]
    assert set(first) == {Outcome.human, Outcome.busy}
    assert personas.behaviour(numbers[0], 0).press == ("1",)


def test_unquoted_and_national_numbers_are_read_as_e164():
    personas = parse_personas("numbers:\n  +84912345678: [busy]\n  0362345678: [machine]\n")
    assert set(personas.numbers) == {"+84912345678", "+84362345678"}


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("default: {answer: 0.5, bored: 0.5}", 1, "unknown key 'bored'"),
        ('numbers:\n  "+84912345678": [asleep]\n', 2, "unknown behaviour 'asleep'"),
        ('numbers:\n  "+84912345678":\n    - {answer: human, press: "1 x"}\n', 3, "not phone keys"),
        ('numbers:\n  "hello": [busy]\n', 2, "not a phone number"),
        ('numbers:\n  "+84912345678": [{answer: robot}]\n', 2, "human or machine"),
        ("numbers:\n  '+84912345678': [busy]\n  '+84912345678': [machine]\n", 3, "duplicate key"),
    ],
)
def test_a_bad_personas_file_names_the_line(text, line, words):
    with pytest.raises(PersonaFileError) as raised:
        parse_personas(text, "personas.yaml")
    assert f"personas.yaml:{line}:" in str(raised.value)
    assert words in str(raised.value)
