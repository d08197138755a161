"""`robocall flows`: what staff see when they read a flow or try a question."""

from __future__ import annotations

import json
import os

from sqlalchemy import select
from typer.testing import CliRunner

from robocall import db
from robocall.cli import app
from robocall.cli.tryout import NOT_SENT
from robocall.config import get_settings
from robocall.contacts.models import Classification, Contact
from robocall.hotline import notify
from robocall.hotline.models import HotlineReport, NotificationStatus, ReportNotification
from robocall.ivr.models import CallSession
from robocall.processes import make_worker
from robocall.telephony.messages import Message
from robocall.telephony.models import Call
from robocall.units.service import ensure_sample_units, get_by_code
from robocall.workers.connection import get_redis
from robocall.workers.queues import QUEUE_NAMES, get_queue


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


# --- `flows try`: a trial writes nothing real and pages nobody (finding 12) ----------------

# Main menu 1 = report symptoms, then yes to every question: shortness of breath is urgent.
URGENT_REPORT = "1 1 1 1 1 1 1"
DEFAULT_DUTY = "+84912000115"  # ivr_flows/duty.yaml, default
DISTRICT_DUTY = ("+84912000769", "+84987000769")  # ivr_flows/duty.yaml, unit 769


def _nothing_real_was_written(session) -> None:
    session.rollback()
    for model in (HotlineReport, ReportNotification, CallSession, Call, Message):
        assert session.scalars(select(model)).all() == [], model
    # No job queued, no transcript or outbox entry: the test's Redis is empty.
    assert get_redis().dbsize() == 0
    for name in QUEUE_NAMES:
        assert get_queue(name).count == 0


def test_flows_try_urgent_hotline_report_writes_nothing_and_prints_the_alert(session):
    database = get_settings().effective_database_url
    redis_url = os.environ.get("ROBOCALL_REDIS_URL")
    result = CliRunner().invoke(
        app, ["flows", "try", "hotline", "--to", "0912345678", "--press", URGENT_REPORT]
    )
    assert result.exit_code == 0, result.output
    assert "Chúng tôi đã báo cho bác sĩ trực" in result.stdout  # the caller heard it all
    assert f"would send SMS to duty number {DEFAULT_DUTY}: KHẨN #1: +84912345678" in result.stdout
    _nothing_real_was_written(session)
    # The process is back on the test's database and Redis.
    assert get_settings().effective_database_url == database
    assert os.environ.get("ROBOCALL_REDIS_URL") == redis_url
    assert str(db.get_engine().url) == database
    assert get_redis().ping()


def test_flows_try_speaks_to_a_known_caller_and_names_their_districts_duty_numbers(session):
    from robocall.runtime import wire

    wire(sms_sender=False)  # the hotline recognises callers by number, as in `robocall serve`
    ensure_sample_units(db_session=session)
    commune = get_by_code(db_session=session, code="26794")
    contact = Contact(
        unit_id=commune.id,
        name="Trần Thị Bình",
        match_key="tran thi binh",
        phone="+84912345678",
        sms_capable=True,
        classification=Classification.F1,
    )
    session.add(contact)
    session.commit()
    contacts_before = [(c.id, c.name, c.phone) for c in session.scalars(select(Contact))]
    session.rollback()  # on SQLite an open transaction would hold up the command's

    result = CliRunner().invoke(
        app, ["flows", "try", "hotline", "--to", "0912345678", "--press", URGENT_REPORT, "--json"]
    )
    assert result.exit_code == 0, result.output
    tried = json.loads(result.stdout)
    assert tried["recorded"] is False
    said = " ".join(line["text"] for line in tried["lines"] if line["kind"] == "say")
    assert "anh chị Trần Thị Bình" in said
    alerts = {m["to"]: m["body"] for m in tried["not_sent"] if m["duty"]}
    assert set(alerts) == set(DISTRICT_DUTY)
    assert all("Trần Thị Bình" in body for body in alerts.values())
    _nothing_real_was_written(session)
    assert [(c.id, c.name, c.phone) for c in session.scalars(select(Contact))] == contacts_before


def test_flows_try_record_keeps_the_report_but_never_sends_to_duty_numbers(session):
    result = CliRunner().invoke(
        app,
        ["flows", "try", "hotline", "--to", "0912345678", "--press", URGENT_REPORT, "--record"],
    )
    assert result.exit_code == 0, result.output
    assert f"recorded, not sent: SMS to duty number {DEFAULT_DUTY}" in result.stdout
    session.rollback()
    report = session.scalars(select(HotlineReport)).one()
    assert report.urgent and report.phone == "+84912345678"
    [alert] = session.scalars(select(ReportNotification)).all()
    assert (alert.to, alert.status, alert.error) == (
        DEFAULT_DUTY,
        NotificationStatus.failed,
        NOT_SENT,
    )
    session.rollback()  # on SQLite an open transaction would hold up the worker

    # A worker running on the real queues sends nothing to the duty number.
    make_worker(["sms"], threaded=True).work(burst=True)
    session.rollback()
    assert session.scalars(select(Message).where(Message.to_number == DEFAULT_DUTY)).all() == []
    assert notify.outbox_messages() == []
    assert session.get(ReportNotification, alert.id).status == NotificationStatus.failed
