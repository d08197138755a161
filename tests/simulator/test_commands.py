"""`robocall simulator`: standalone on 127.0.0.1, and calls and SMS to robocall from the CLI."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

from sqlalchemy import select
from typer.testing import CliRunner

from robocall.cli import app
from robocall.config import get_settings
from robocall.telephony import service
from robocall.telephony.base import CallDirection, CallStatus
from robocall.telephony.messages import Message, MessageDirection
from robocall.telephony.models import Call
from robocall.telephony.twilio_provider import TwilioProvider

runner = CliRunner()
RESIDENT = "+84912345678"


def test_calling_robocall_prints_the_transcript_and_stores_the_call(session):
    result = runner.invoke(
        app,
        [
            "simulator",
            "call",
            "--from",
            RESIDENT,
            "--press",
            "1 2",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["status"] == "completed"
    texts = [(line["kind"], line["text"]) for line in printed["lines"]]
    assert ("press", "1") in texts and ("press", "2") in texts
    said = [text for kind, text in texts if kind == "say"]
    assert said[0].startswith("Trung tâm Y tế quận xin chào. Đây là đường dây nóng")
    assert said[-1].startswith("Cảm ơn anh chị, chúng tôi đã ghi nhận.")
    call = session.scalar(select(Call).where(Call.sid == printed["call_sid"]))
    assert call is not None
    assert call.direction is CallDirection.inbound
    assert call.status is CallStatus.completed
    assert call.from_number == RESIDENT

    shown = runner.invoke(app, ["simulator", "transcript", printed["call_sid"]])
    assert shown.exit_code == 0
    assert "press     1" in shown.stdout
    assert "callback  status completed  → 204" in shown.stdout


def test_an_unknown_transcript_is_a_clear_error():
    result = runner.invoke(app, ["simulator", "transcript", "CA" + "0" * 32])
    assert result.exit_code == 1
    assert "no transcript for call CA000" in result.stderr


def test_calling_a_number_robocall_does_not_own_is_refused():
    result = runner.invoke(app, ["simulator", "call", "--from", RESIDENT, "--to", "+84911111111"])
    assert result.exit_code == 1
    assert "+84911111111 is not a number of this account" in result.stderr


def test_a_bad_press_is_refused_by_name():
    result = runner.invoke(app, ["simulator", "call", "--from", RESIDENT, "--press", "1 a"])
    assert result.exit_code == 2
    assert "--press" in result.stderr and "not phone keys" in result.stderr


def test_texting_robocall_stores_the_sms(session):
    result = runner.invoke(app, ["simulator", "sms", "--from", RESIDENT, "--body", "Tôi bị sốt"])
    assert result.exit_code == 0, result.output
    message = session.scalar(select(Message))
    assert message is not None
    assert message.direction is MessageDirection.inbound
    assert message.body == "Tôi bị sốt"
    assert message.to_number == get_settings().hotline_number


def test_the_simulator_runs_standalone_on_localhost(session, subprocess_env, tmp_path):
    env = dict(subprocess_env, COLUMNS="200", ROBOCALL_SIMULATOR_TIME_FACTOR="0.001")
    process = subprocess.Popen(
        [sys.executable, "-m", "robocall.cli", "simulator", "--port", "0", "--cps", "50"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "stderr.txt").open("w"),
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", first)
        assert found, first + (tmp_path / "stderr.txt").read_text()
        settings = get_settings()
        provider = TwilioProvider(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            api_base_url=found.group(1),
        )
        call = service.place_call(db_session=session, to=RESIDENT, provider=provider)
        session.commit()
        deadline = time.monotonic() + 30
        while provider.fetch_call(call_sid=call.sid).status is not CallStatus.completed:
            assert time.monotonic() < deadline, "the call did not complete"
            time.sleep(0.05)
        # The simulator process delivered every callback to the app, which stored them.
        while time.monotonic() < deadline:
            session.expire_all()
            stored = session.get(Call, call.id).status
            # End the read: an open SQLite transaction would hold up the callbacks.
            session.rollback()
            if stored is CallStatus.completed:
                break
            time.sleep(0.05)
        shown = runner.invoke(app, ["simulator", "transcript", call.sid]).stdout
        assert stored is CallStatus.completed, shown + (tmp_path / "stderr.txt").read_text()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
