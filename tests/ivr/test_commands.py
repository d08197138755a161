"""`robocall flows`: what staff see when they read a flow or try a question."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from robocall.cli import app


def test_flows_list_shows_the_bundled_flows_without_problems():
    result = CliRunner().invoke(app, ["flows", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["flow"]: row for row in json.loads(result.output)}
    assert set(rows) == {"bluezone_guide", "f0_daily_checkin", "f1_tracing", "hotline"}
    assert rows["hotline"]["direction"] == "inbound"
    assert all(row["problems"] == [] for row in rows.values())


def test_flows_show_prints_the_script_in_either_language():
    vi = CliRunner().invoke(app, ["flows", "show", "bluezone_guide"])
    assert vi.exit_code == 0, vi.output
    assert "[1] send_link → send_link" in vi.output
    assert "Bluezone là ứng dụng của Bộ Y tế" in vi.output
    en = CliRunner().invoke(app, ["flows", "show", "bluezone_guide", "--lang", "en"])
    assert "Ministry of Health's app" in en.output
    missing = CliRunner().invoke(app, ["flows", "show", "nope"])
    assert missing.exit_code == 2 and "no flow named 'nope'" in missing.output


def test_flows_ask_shows_the_matched_answer_or_says_it_is_unsure():
    sure = CliRunner().invoke(app, ["flows", "ask", "xét nghiệm ở đâu"])
    assert sure.exit_code == 0
    assert "testing_where" in sure.output and "trạm y tế" in sure.output
    unsure = CliRunner().invoke(app, ["flows", "ask", "alo alo"])
    assert "below the threshold" in unsure.output
