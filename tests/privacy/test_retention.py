"""Finding 14: personal data past retention is anonymised by the daily job, and every figure
officials read still counts the same."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.campaigns.models import Campaign, Target
from robocall.campaigns.results import progress, results
from robocall.config import get_settings
from robocall.contacts.models import Contact
from robocall.exports.daily import daily_counts
from robocall.exports.situation import build_situation
from robocall.hotline.models import HotlineReport, ReportNotification
from robocall.importers.models import ImportBatch
from robocall.ivr.models import CallAnswer, CallSession
from robocall.privacy.scheduled import anonymise_expired_job
from robocall.privacy.service import ANONYMISED_NAME, anonymise_expired, is_placeholder
from robocall.telephony.messages import Message
from robocall.telephony.models import Call, CallEvent
from robocall.users.models import AuditEntry
from robocall.users.service import Scope
from robocall.workers.connection import get_redis
from tests.privacy.helpers import (
    AN,
    HOUSEHOLD,
    NEW_CALLER,
    OLD_CALLER,
    ORIGINAL,
    District,
    every_text,
    one,
)

EVERYONE = Scope(None)


def figures(session: Session, district: District) -> dict[str, Any]:
    """What officials read: the dashboard's figures and the campaign's results, without the
    fields that name a person."""
    session.expire_all()
    zone = get_settings().zone
    campaign = session.get(Campaign, district.campaign_id)
    assert campaign is not None
    situations = {
        day: [
            (r.code, r.contacts, r.monitored, r.reached_today, r.with_symptoms, r.urgent)
            for r in build_situation(db_session=session, scope=EVERYONE, day=day, zone=zone).rows
        ]
        for day in (district.old_call_day, district.today - dt.timedelta(days=2), district.today)
    }
    chart = daily_counts(
        db_session=session, scope=EVERYONE, last_day=district.today, days=120, zone=zone
    )
    per_contact = [
        {
            "contact_id": r["contact_id"],
            "unit_id": r["unit_id"],
            "outcome": r["outcome"],
            "symptomatic": r["symptomatic"],
            "urgent": r["urgent"],
            "attempts": r["attempts"],
            "answers": [(a["question"], a["key"], a["at"]) for a in r["answers"]],
            "sms": r["sms"],
        }
        for r in results(db_session=session, campaign=campaign)
    ]
    shown = progress(db_session=session, campaign=campaign, now=district.now)
    shown.pop("eta_seconds")
    classifications = sorted(
        (c.unit_id, c.classification.value, c.exposure_date)
        for c in session.scalars(select(Contact))
    )
    return {
        "situations": situations,
        "chart": chart,
        "results": per_contact,
        "progress": shown,
        "contacts": classifications,
    }


def test_contact_past_retention_is_anonymised_everywhere_and_figures_stay(
    session: Session, district: District
):
    before = figures(session, district)
    linh_trung = next(r for r in before["situations"][district.old_call_day] if r[0] == "26794")
    assert linh_trung[3] == 4  # An, Cúc, and the household (Dũng, Em) reached that day
    an = district.people["An"]
    assert an.name in every_text(session) and AN in every_text(session)

    counts = anonymise_expired(db_session=session, now=district.now, retention_days=90)
    session.commit()

    # Nothing names or reaches An any more, in any table (the audit log included).
    everything = every_text(session)
    for trace in (an.name, AN, AN[1:], "0912000001", "+84987000001", an.words, "An bị ho"):
        assert trace not in everything, trace
    assert "12 đường số 3 (An)" not in everything and "An vẫn khỏe" not in everything
    assert f"https://api.twilio.test/{an.call_sid}.wav" not in everything
    contact = session.get(Contact, an.contact_id)
    assert contact is not None
    assert contact.name == ANONYMISED_NAME and is_placeholder(contact.phone)
    assert (contact.address_detail, contact.hamlet, contact.birth_year, contact.notes) == (
        None,
        None,
        None,
        None,
    )
    assert contact.alt_phones == [] and contact.extra == {} and contact.source_case is None
    assert contact.classification.value == "F1" and contact.unit_id is not None
    # The same placeholder in every row reached through the number.
    call = one(session, select(Call).where(Call.sid == an.call_sid))
    assert call.to_number == contact.phone
    assert one(session, select(CallEvent).where(CallEvent.call_id == call.id)).fields == {}
    ivr = session.get(CallSession, an.session_id)
    assert ivr is not None and ivr.phone == contact.phone and ivr.context == {}
    answers = session.scalars(
        select(CallAnswer).where(CallAnswer.call_session_id == ivr.id).order_by(CallAnswer.id)
    ).all()
    assert [(a.node, a.key, a.value, a.question, a.speech) for a in answers] == [
        ("confirm", "1", "yes", "", None),
        ("cough", None, "yes", "", None),
        ("message", None, "", "", None),
    ]
    report = session.get(HotlineReport, an.report_id)
    assert report is not None and report.phone == contact.phone
    assert (report.message, report.recording_urls) == (None, [])
    assert report.answers == {"confirm": "yes", "cough": "yes"}
    assert report.symptoms == ["cough"] and report.urgent and report.temperature == 38.5
    alert = one(
        session, select(ReportNotification).where(ReportNotification.report_id == report.id)
    )
    assert alert.body == ""
    texts = session.scalars(
        select(Message).where(
            (Message.to_number == contact.phone) | (Message.from_number == contact.phone)
        )
    ).all()
    assert len(texts) == 2 and all(m.body == "" for m in texts)
    target = one(session, select(Target).where(Target.phone == contact.phone))
    assert target.contact_ids == [an.contact_id]
    # The stored upload is gone (imported 104 days ago), with the cell values it quoted.
    batch = session.get(ImportBatch, district.batch_id)
    assert batch is not None and batch.original is None
    assert batch.warnings == [
        {"sheet": "DS", "row": 7, "column": "SĐT", "message": "số điện thoại phụ không hợp lệ"}
    ]
    assert ORIGINAL.decode("latin-1")[4:] not in everything

    # Every figure counts the same.
    assert figures(session, district) == before

    # The run is audited with numbers only.
    entry = one(session, select(AuditEntry).where(AuditEntry.action == "privacy.anonymise"))
    assert entry.detail["contacts"] == counts.contacts == 2  # An and Dũng
    assert entry.detail["originals_deleted"] == 1 and entry.detail["retention_days"] == 90
    # An's two numbers and the old caller's; not the household's, Cúc's or the duty number.
    assert counts.phones == 3

    # A second run finds nothing more to do.
    again = anonymise_expired(db_session=session, now=district.now, retention_days=90)
    assert again.contacts == 0 and again.phones == 0 and again.originals_deleted == 0


def test_contact_within_retention_is_untouched(session: Session, district: District):
    cuc = district.people["Cúc"]
    anonymise_expired(db_session=session, now=district.now, retention_days=90)
    session.commit()
    session.expire_all()
    contact = session.get(Contact, cuc.contact_id)
    assert contact is not None
    assert (contact.name, contact.phone) == (cuc.name, cuc.phone)
    assert contact.address_detail == "12 đường số 3 (Cúc)" and contact.birth_year == 1980
    report = session.get(HotlineReport, cuc.report_id)
    assert report is not None and report.message == cuc.words and report.recording_urls
    everything = every_text(session)
    assert "Cúc vẫn khỏe" in everything and "có, Cúc bị ho" in everything
    # The same contact two days later (monitoring ended 91 days ago) is anonymised.
    anonymise_expired(
        db_session=session, now=district.now + dt.timedelta(days=2), retention_days=90
    )
    session.commit()
    session.expire_all()
    assert session.get(Contact, cuc.contact_id).name == ANONYMISED_NAME  # type: ignore[union-attr]


def test_shared_phone_keeps_the_records_of_the_contact_still_monitored(
    session: Session, district: District
):
    dung, em = district.people["Dũng"], district.people["Em"]
    anonymise_expired(db_session=session, now=district.now, retention_days=90)
    session.commit()
    session.expire_all()
    gone = session.get(Contact, dung.contact_id)
    assert gone is not None and gone.name == ANONYMISED_NAME and gone.address_detail is None
    kept = session.get(Contact, em.contact_id)
    assert kept is not None
    assert (kept.name, kept.phone, kept.address_detail) == (
        em.name,
        HOUSEHOLD,
        "12 đường số 3 (Em)",
    )
    # Em's call, answers, report and messages are whole; the number is still the number.
    everything = every_text(session)
    for trace in (em.words, "Em vẫn khỏe", f"KHẨN #{em.report_id}: {HOUSEHOLD} {em.name}"):
        assert trace in everything, trace
    report = session.get(HotlineReport, em.report_id)
    assert report is not None and report.phone == HOUSEHOLD and report.message == em.words
    ivr = session.get(CallSession, em.session_id)
    assert ivr is not None and ivr.phone == HOUSEHOLD and ivr.context["name"] == em.name
    assert one(session, select(Call).where(Call.sid == em.call_sid)).from_number == HOUSEHOLD
    assert one(session, select(Target).where(Target.phone == HOUSEHOLD)).contact_ids == [
        dung.contact_id,
        em.contact_id,
    ]


def test_callers_on_no_list_are_anonymised_once_quiet_for_the_retention_period(
    session: Session, district: District
):
    old, new = district.people["Khách cũ"], district.people["Khách mới"]
    anonymise_expired(db_session=session, now=district.now, retention_days=90)
    session.commit()
    everything = every_text(session)
    assert OLD_CALLER not in everything and "Khách cũ nhắn" not in everything
    assert NEW_CALLER in everything and "Khách mới nhắn" in everything
    session.expire_all()
    report = session.get(HotlineReport, old.report_id)
    assert report is not None and is_placeholder(report.phone) and report.urgent
    assert session.get(HotlineReport, new.report_id).phone == NEW_CALLER  # type: ignore[union-attr]


def test_the_daily_job_runs_once_a_day_and_audits_each_run(session: Session, district: District):
    client = get_redis()
    anonymise_expired_job(client, "scheduler-1")
    anonymise_expired_job(client, "scheduler-1")  # the same local day: nothing to do
    session.expire_all()
    runs = session.scalars(select(AuditEntry).where(AuditEntry.action == "privacy.anonymise"))
    assert [r.detail["contacts"] for r in runs] == [2]
    assert session.get(Contact, district.people["An"].contact_id).name == ANONYMISED_NAME  # type: ignore[union-attr]
    session.rollback()  # on SQLite an open transaction would hold up the job's
    # `robocall scheduler --eager privacy_retention` runs it again.
    anonymise_expired_job(client, "eager")
    assert len(session.scalars(select(AuditEntry)).all()) == 2
