"""Inbound SMS: opt-out keywords, answers to our questions, FAQ replies and reports."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from robocall.cli import app
from robocall.contacts.models import OptOut
from robocall.contacts.service import is_opted_out
from robocall.db import utcnow
from robocall.hotline.models import HotlineReport, ReportChannel, ReportKind
from robocall.sms.inbound import handle_inbound_sms, keyword_key, load_keywords
from robocall.telephony import service as telephony
from robocall.telephony.base import MessageEventData, MessageStatus
from robocall.telephony.messages import Message, MessageDirection, SmsEncoding
from robocall.workers.queues import get_queue

RESIDENT = "+84912345678"


@pytest.fixture(autouse=True)
def listening(redis_url):
    telephony.on_inbound_sms(handle_inbound_sms)
    yield


def _receive(session, body: str, sid: str = "SM" + "1" * 32) -> None:
    telephony.record_inbound_sms(
        db_session=session,
        event=MessageEventData(
            message_sid=sid,
            status=MessageStatus.received,
            to="+842873001234",
            from_=RESIDENT,
            body=body,
        ),
    )
    session.commit()


def _replies() -> list[str]:
    return [job.args[1] for job in get_queue("sms").get_jobs()]


@pytest.mark.parametrize("text", ["STOP", "Từ chối", "tu choi", " TỪ  CHỐI ", "huỷ", "Hủy"])
def test_opt_out_keywords_match_ignoring_case_diacritics_and_spaces(text):
    assert load_keywords().kind_of(text) == "optout"


def test_keyword_key_folds_d_with_stroke():
    assert keyword_key("Đừng") == "DUNG"


def test_an_opt_out_keyword_adds_the_number_and_confirms(session):
    _receive(session, "Tu choi")
    assert is_opted_out(db_session=session, phone=RESIDENT)
    assert _replies() == [load_keywords().replies["optout"]["vi"]]


def test_the_same_inbound_sms_twice_is_handled_once(session):
    _receive(session, "STOP")
    _receive(session, "STOP")
    assert session.scalars(select(OptOut)).all() and len(_replies()) == 1


def test_opt_in_removes_the_number(session):
    _receive(session, "STOP", sid="SM" + "1" * 32)
    _receive(session, "nhận lại", sid="SM" + "2" * 32)
    assert not is_opted_out(db_session=session, phone=RESIDENT)


def test_a_reply_to_our_question_is_stored_as_an_answer(session):
    session.add(
        Message(
            sid="SM" + "9" * 32,
            direction=MessageDirection.outbound,
            to_number=RESIDENT,
            from_number="+842873001234",
            body="TTYT: Hôm nay anh/chị có sốt không? Trả lời CO hoặc KHONG?",
            status=MessageStatus.delivered,
            encoding=SmsEncoding.ucs2,
            created_at=utcnow(),
        )
    )
    session.commit()
    _receive(session, "KHONG")
    report = session.scalar(select(HotlineReport))
    assert report.channel is ReportChannel.sms and report.kind is ReportKind.declaration
    assert list(report.answers.values()) == ["KHONG"]


def test_a_question_gets_the_faq_answer(session):
    _receive(session, "F1 phải cách ly bao nhiêu ngày")
    assert len(_replies()) == 1 and session.scalar(select(HotlineReport)) is None


def test_gibberish_becomes_a_report(session):
    _receive(session, "qwrty zxcvb")
    report = session.scalar(select(HotlineReport))
    assert report is not None and report.message == "qwrty zxcvb" and _replies() == []


def test_optout_cli_add_list_remove(session):
    runner = CliRunner()
    added = runner.invoke(app, ["optout", "add", "0912 345 678"])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["optout", "list", "--json"])
    assert [row["phone"] for row in json.loads(listed.stdout)] == [RESIDENT]
    assert runner.invoke(app, ["optout", "remove", "0912345678"]).exit_code == 0
    again = runner.invoke(app, ["optout", "remove", "0912345678"])
    assert again.exit_code == 1 and "not on the opt-out list" in again.output
    bad = runner.invoke(app, ["optout", "add", "12"])
    assert bad.exit_code == 1 and "not a phone number" in bad.output
    session.expire_all()
    assert session.scalars(select(OptOut)).all() == []
