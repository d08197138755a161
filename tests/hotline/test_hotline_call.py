"""A known resident calls the hotline and reports symptoms: urgent report, duty SMS sent."""

from __future__ import annotations

import json

from sqlalchemy import select
from typer.testing import CliRunner

from robocall.cli import app
from robocall.hotline import notify
from robocall.hotline.models import (
    HotlineReport,
    NotificationStatus,
    ReportChannel,
    ReportKind,
    ReportNotification,
)
from robocall.hotline.tasks import AlertNotSent, send_report_notification
from robocall.ivr import service
from robocall.ivr.service import ContactMatch
from robocall.processes import make_worker
from robocall.units.service import ensure_sample_units, get_by_code
from robocall.workers.queues import get_queue
from tests.ivr.driver import WebhookCall

CALLER = "+84909123456"
CONTACT_ID = 7


def _known_caller(session) -> int:
    ensure_sample_units(db_session=session)
    session.commit()
    commune = get_by_code(db_session=session, code="26794")
    assert commune is not None
    unit_id = commune.id
    session.rollback()

    def by_phone(db, phone: str) -> ContactMatch | None:
        if phone == CALLER:
            return ContactMatch(CONTACT_ID, unit_id, {"name": "Võ Thị Hoa"})
        return None

    service.set_contact_lookups(by_phone=by_phone, by_id=None)
    return unit_id


def test_known_caller_pressing_one_for_everything_gets_an_urgent_report_and_duty_sms(
    client, session
):
    unit_id = _known_caller(session)
    call = WebhookCall(client, "CAhot1", caller=CALLER).call_hotline()
    assert "Võ Thị Hoa" in call.heard[-1]
    call.press("1")  # main menu: report symptoms
    questions = 0
    while not call.finished:
        call.press("1")
        questions += 1
        assert questions < 20, call.heard[-1]
    assert questions == 6  # fever, cough, sore throat, breathing, taste/smell, contact
    assert any("bác sĩ trực" in text for text in call.heard)

    report = session.scalar(select(HotlineReport))
    assert report.channel == ReportChannel.hotline
    assert report.kind == ReportKind.symptoms
    assert report.contact_id == CONTACT_ID and report.unit_id == unit_id
    assert report.phone == CALLER
    assert report.urgent is True and report.urgent_reasons == ["shortness_of_breath"]
    assert report.symptoms == [
        "fever",
        "cough",
        "sore_throat",
        "shortness_of_breath",
        "loss_of_taste_or_smell",
    ]
    assert report.answers["case_contact"] == "yes"
    # The commune has no duty entry of its own: its district's (769) duty numbers are used.
    alerts = session.scalars(select(ReportNotification).order_by(ReportNotification.to)).all()
    assert [a.to for a in alerts] == ["+84912000769", "+84987000769"]
    assert all(a.status == NotificationStatus.queued for a in alerts)
    assert "KHẨN" in alerts[0].body and CALLER in alerts[0].body and "khó thở" in alerts[0].body
    report_id = report.id
    session.rollback()

    # The jobs were queued after the commit, on the sms queue; a worker sends them.
    assert get_queue("sms").count == 2
    make_worker(["sms"]).work(burst=True)
    sent = notify.outbox_messages()
    assert sorted(m["to"] for m in sent) == ["+84912000769", "+84987000769"]
    assert all(f"#{report_id}" in m["body"] for m in sent)
    alerts = session.scalars(select(ReportNotification)).all()
    assert all(a.status == NotificationStatus.sent and a.sent_at for a in alerts)
    session.rollback()

    result = CliRunner().invoke(app, ["reports", "list", "--urgent", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [r["id"] for r in listed] == [report_id]
    assert listed[0]["contact_id"] == CONTACT_ID and listed[0]["urgent"] is True
    assert listed[0]["symptoms"][0] == "fever"


def test_an_unknown_caller_still_reports_without_a_contact(client, session):
    _known_caller(session)
    WebhookCall(client, "CAhot2", caller="+84988000111").call_hotline().press(
        "1", "2", "2", "2", "2", "2", "2"
    )
    report = session.scalar(select(HotlineReport))
    assert report.contact_id is None and report.unit_id is None
    assert report.urgent is False and report.symptoms == []
    assert session.scalars(select(ReportNotification)).all() == []


def test_a_failed_alert_is_kept_and_sent_on_the_next_try(client, session):
    _known_caller(session)
    WebhookCall(client, "CAhot3", caller=CALLER).call_hotline().press("1", "2", "2", "2", "1")
    session.rollback()
    notification_id = session.scalars(select(ReportNotification.id)).first()
    session.rollback()

    def down(*, to: str, body: str) -> str:
        raise ConnectionError("provider unreachable")

    notify.set_sms_sender(down)
    try:
        try:
            send_report_notification(notification_id)
        except AlertNotSent:
            pass
        else:
            raise AssertionError("a failed send must raise so that rq retries")
    finally:
        notify.set_sms_sender(None)
    failed = session.get(ReportNotification, notification_id)
    assert failed.status == NotificationStatus.queued and failed.tries == 1
    assert "provider unreachable" in failed.error
    session.rollback()

    send_report_notification(notification_id)
    send_report_notification(notification_id)  # a duplicate delivery sends nothing more
    done = session.get(ReportNotification, notification_id)
    assert done.status == NotificationStatus.sent and done.tries == 2 and done.error is None
    assert [m["to"] for m in notify.outbox_messages()] == [done.to]
