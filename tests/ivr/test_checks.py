"""`robocall content check` on the bundled flows, and on copies broken in each way it catches."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from robocall.cli import app
from robocall.content import check
from tests.ivr.driver import FLOWS, line_of


@pytest.fixture
def content_root(tmp_path: Path) -> Path:
    """A content root holding a copy of the bundled ivr_flows/ (other folders empty)."""
    shutil.copytree(FLOWS, tmp_path / "ivr_flows")
    for folder in ("sms", "campaigns", "importers"):
        (tmp_path / folder).mkdir()
    return tmp_path


def _problems(root: Path) -> list[str]:
    return [str(p) for p in check(root)]


def _edit(root: Path, name: str, old: str, new: str) -> Path:
    path = root / "ivr_flows" / name
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_the_bundled_flows_faq_conventions_and_roster_pass(content_root: Path):
    assert _problems(content_root) == []


def test_content_check_command_reports_file_and_line(content_root: Path):
    path = _edit(content_root, "bluezone_guide.yaml", "kind: sms", "kind: fax")
    result = CliRunner().invoke(app, ["content", "check", "--root", str(content_root)])
    assert result.exit_code == 1
    line = line_of(path, "kind: fax")
    assert f"ivr_flows/bluezone_guide.yaml:{line}: node 'send_link': unknown node kind" in (
        result.output
    )


def test_unknown_node_kind(content_root: Path):
    path = _edit(
        content_root,
        "f1_tracing.yaml",
        "kind: escalate\n    reason: short",
        "kind: alarm\n    reason: short",
    )
    line = line_of(path, "kind: alarm")
    assert (
        f"ivr_flows/f1_tracing.yaml:{line}: node 'breathing_alert': unknown node kind 'alarm' "
        "(known: say, play, ask, record, branch, set, report, escalate, transfer, sms, optout, "
        "hangup)"
    ) in _problems(content_root)


def test_missing_target(content_root: Path):
    path = _edit(content_root, "f1_tracing.yaml", "    yes: cough\n", "    yes: coughing\n")
    line = line_of(path, "yes: coughing")
    assert (
        f"ivr_flows/f1_tracing.yaml:{line}: node 'fever': goes to 'coughing', which does not exist"
    ) in _problems(content_root)


def test_unreachable_node(content_root: Path):
    path = _edit(
        content_root,
        "f1_tracing.yaml",
        "        next: confirm_household\n",
        "        next: confirm_person\n",
    )
    line = line_of(path, "  confirm_household:")
    assert (
        f"ivr_flows/f1_tracing.yaml:{line}: node 'confirm_household' is unreachable from 'greeting'"
    ) in _problems(content_root)


def test_undefined_variable(content_root: Path):
    path = _edit(
        content_root, "f1_tracing.yaml", '"Anh chị có bị ho không?"', '"{{ ten }} có bị ho không?"'
    )
    line = line_of(path, "{{ ten }}")
    problems = _problems(content_root)
    assert any(
        p.startswith(f"ivr_flows/f1_tracing.yaml:{line}: node 'cough': undefined variable(s) ten")
        for p in problems
    ), problems


def test_undefined_variable_in_a_condition(content_root: Path):
    path = _edit(content_root, "f0_daily_checkin.yaml", "spo2 < spo2_threshold", "spo2 < nguong")
    line = line_of(path, "spo2 < nguong")
    assert any(
        p.startswith(
            f"ivr_flows/f0_daily_checkin.yaml:{line}: "
            "node 'check_spo2': undefined variable(s) nguong"
        )
        for p in _problems(content_root)
    )


def test_duplicate_key(content_root: Path):
    path = _edit(
        content_root,
        "hotline.yaml",
        '      "0": {value: message, next: message_record, say: [lời nhắn, nhắn]}\n',
        '      "0": {value: message, next: message_record, say: [lời nhắn, nhắn]}\n'
        '      "1": {value: again, next: main_menu}\n',
    )
    first = line_of(path, '"1": {value: symptoms')
    second = line_of(path, '"1": {value: again')
    assert (
        f"ivr_flows/hotline.yaml:{second}: duplicate key '1' (first on line {first})"
    ) in _problems(content_root)


def test_loop_with_no_way_out(content_root: Path):
    path = _edit(
        content_root,
        "bluezone_guide.yaml",
        "    next: menu\n  menu:",
        "    next: why\n  menu:",
    )
    line = line_of(path, "  why:")
    problems = _problems(content_root)
    assert (
        f"ivr_flows/bluezone_guide.yaml:{line}: loop with no way out: why → how → why" in problems
    )


def test_outbound_flow_must_confirm_the_person_first(content_root: Path):
    path = _edit(content_root, "bluezone_guide.yaml", "    confirms_person: true\n", "")
    line = line_of(path, "  confirm_person:")
    assert any(
        p.startswith(f"ivr_flows/bluezone_guide.yaml:{line}: the first question of an outbound")
        for p in _problems(content_root)
    )


def test_key_nine_is_reserved_for_opt_out(content_root: Path):
    path = _edit(
        content_root,
        "hotline.yaml",
        '      "0": {value: message, next: message_record, say',
        '      "9": {value: message, next: message_record, say',
    )
    line = line_of(path, '"9": {value: message')
    assert any(
        p.startswith(f"ivr_flows/hotline.yaml:{line}: node 'main_menu': key 9 is kept")
        for p in _problems(content_root)
    )


def test_faq_menu_must_name_existing_questions(content_root: Path):
    path = _edit(content_root, "hotline.yaml", '"5": bluezone_install', '"5": bluezone_setup')
    line = line_of(path, "bluezone_setup")
    assert (
        f"ivr_flows/hotline.yaml:{line}: "
        "node 'faq_question': no question 'bluezone_setup' in faq.yaml"
    ) in _problems(content_root)


def test_a_broken_flow_is_refused_at_run_time_but_others_still_run(content_root: Path):
    from robocall.ivr.library import FlowNotAvailable, load_folder

    _edit(content_root, "f1_tracing.yaml", "    yes: cough\n", "    yes: coughing\n")
    library = load_folder(content_root / "ivr_flows")
    with pytest.raises(FlowNotAvailable, match="f1_tracing"):
        library.flow("f1_tracing")
    assert library.flow("hotline").name == "hotline"
