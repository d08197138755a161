"""Every bundled flow played through the simulator and the real Twilio adapter.

The simulator dials (or, for the hotline, is called by) a resident who presses keys, follows the
TwiML the app returns, and posts signed callbacks; the answers and reports land in the database.
"""

from __future__ import annotations

from rq import Queue
from sqlalchemy import select
from typer.testing import CliRunner

from robocall.cli import app as cli_app
from robocall.cli.tryout import try_flow
from robocall.hotline.models import HotlineReport
from robocall.ivr.models import CallSession
from robocall.web.app import create_app
from robocall.workers.connection import get_redis

RESIDENT = "+84912345678"


def play(flow: str, press: str, **options):
    tried = try_flow(flow=flow, phone=RESIDENT, press=press, app=create_app(), **options)
    said = [line["text"] for line in tried.lines if line["kind"] == "say"]
    return tried, said


def stored(session) -> CallSession:
    session.rollback()
    call = session.scalar(select(CallSession).order_by(CallSession.id.desc()))
    assert call is not None
    return call


def answers(call: CallSession) -> list[tuple[str, str | None, str]]:
    return [(a.node, a.key, a.value) for a in call.answers]


def test_f1_tracing_main_path_with_breathlessness_escalates(session):
    # Confirm, fever yes, cough no, sore throat no, breath yes → offered the doctor (2 = no).
    tried, said = play("f1_tracing", "1 1 2 2 1 2 2 2 1")
    assert tried.status == "completed"
    call = stored(session)
    got = answers(call)
    assert got[0] == ("confirm_person", "1", "yes")
    assert ("fever", "1", "yes") in got and ("cough", "2", "no") in got
    assert any(node.startswith("breath") and value == "yes" for node, _, value in got)
    report = session.scalar(select(HotlineReport).where(HotlineReport.call_session_id == call.id))
    assert report is not None and report.urgent
    assert "fever" in report.symptoms


def test_f1_tracing_wrong_number_ends_politely(session):
    _, said = play("f1_tracing", "2")
    assert said[-1].startswith("Xin lỗi đã làm phiền anh chị.")
    assert stored(session).outcome == "wrong_number"


def test_a_wrong_key_and_silence_repeat_the_question(session):
    _, said = play("f1_tracing", "7 1 2 2 2 2 2 2 1", hangup_after=3)
    confirm = [s for s in said if "chủ thuê bao" in s]
    assert len(confirm) >= 2  # asked again after the wrong key
    call = stored(session)
    assert answers(call)[0][1] == "7" and answers(call)[0][2] == ""
    assert answers(call)[1] == ("confirm_person", "1", "yes")


def test_nine_then_confirm_opts_out(session):
    _, said = play("f1_tracing", "9 1")
    assert any("bấm phím 9" in s for s in said)
    assert stored(session).outcome == "opted_out"


def test_hanging_up_midway_keeps_a_partial_report(session):
    tried, _ = play("f1_tracing", "1 1 1", hangup_after=3)
    assert tried.status == "completed"
    call = stored(session)
    assert call.status.value == "finished"
    report = session.scalar(select(HotlineReport).where(HotlineReport.call_session_id == call.id))
    assert report is not None and not report.complete
    assert "fever" in report.symptoms


def test_bluezone_guide_sends_the_link_on_request(session):
    _, said = play("bluezone_guide", "1 1")
    assert said[-1].startswith("Chúng tôi đã gửi tin nhắn có đường link cài Bluezone")
    assert answers(stored(session)) == [("confirm_person", "1", "yes"), ("menu", "1", "send_link")]
    # The SMS is sent by a worker after the webhook's commit, not while the resident waits.
    assert Queue("sms", connection=get_redis()).count == 1


def test_f0_daily_checkin_low_spo2_is_urgent(session):
    _, said = play("f0_daily_checkin", "1 385# 93# 2 2 2")
    call = stored(session)
    report = session.scalar(select(HotlineReport).where(HotlineReport.call_session_id == call.id))
    assert report is not None
    assert report.temperature == 38.5 and report.spo2 == 93
    assert report.urgent and "low_spo2" in report.urgent_reasons


def test_hotline_declaration_by_keypad(session):
    tried, said = play("hotline", "2 1 2 2")
    assert tried.status == "completed"
    assert said[0].startswith("Trung tâm Y tế quận xin chào")
    call = stored(session)
    assert call.direction.value == "inbound"
    assert answers(call)[0] == ("main_menu", "2", "declaration"), answers(call)


def test_flows_try_prints_what_the_resident_hears():
    result = CliRunner().invoke(
        cli_app, ["flows", "try", "f1_tracing", "--to", "0912345678", "--press", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "press     2" in result.stdout
    assert "Xin lỗi đã làm phiền anh chị" in result.stdout
    unknown = CliRunner().invoke(cli_app, ["flows", "try", "nope", "--to", "0912345678"])
    assert unknown.exit_code == 2
    assert "no flow 'nope'" in unknown.output
