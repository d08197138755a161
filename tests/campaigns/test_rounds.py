"""Daily monitoring rounds, pause/cancel, SMS campaigns and preset checks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from robocall.campaigns import tasks
from robocall.campaigns.definitions import check_preset
from robocall.campaigns.dispatch import dispatch_campaign
from robocall.campaigns.models import (
    Attempt,
    Campaign,
    CampaignRound,
    CampaignStatus,
    Target,
    TargetStatus,
)
from robocall.campaigns.results import results
from robocall.campaigns.service import (
    create_campaign,
    pause_campaign,
    resume_campaign,
    start_campaign,
)
from robocall.contacts.models import Classification
from robocall.content import load_content
from robocall.runner import run_until_done, use_simulator
from robocall.telephony.messages import Message

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def at(day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2021, 8, day, hour, tzinfo=VN).astimezone(dt.UTC)


def test_daily_rounds_call_each_person_once_a_day_until_the_end_of_monitoring(session, add_contact):
    early = add_contact("F0 A", "+84912000001", classification=Classification.F0,
                        exposure_date=dt.date(2021, 7, 20))  # fmt: skip
    late = add_contact("F0 B", "+84912000002", classification=Classification.F0,
                       exposure_date=dt.date(2021, 7, 25))  # fmt: skip
    campaign = create_campaign(
        db_session=session, preset="f0_daily_checkin", contact_ids=[early.id, late.id]
    )
    start_campaign(db_session=session, campaign_id=campaign.id, now=at(2))
    session.commit()
    days: dict[int, dict[int, int | None]] = {}
    for day in range(2, 12):
        dispatch_campaign(db_session=session, campaign=campaign, now=at(day))
        round_ = session.scalar(
            select(CampaignRound).where(CampaignRound.day == dt.date(2021, 8, day))
        )
        if round_ is None:
            break
        targets = session.scalars(select(Target).where(Target.round_id == round_.id)).all()
        days[day] = {t.contact_ids[0]: t.monitoring_day for t in targets}
        for target in targets:  # everyone answers today's call
            target.status = TargetStatus.reached
        session.query(Attempt).delete()
        dispatch_campaign(db_session=session, campaign=campaign, now=at(day, 20))
    session.rollback()
    # A: exposed 20 July, monitored to 3 August; B: exposed 25 July, to 8 August.
    assert days[2] == {early.id: 13, late.id: 8}
    assert days[3] == {early.id: 14, late.id: 9}
    assert days[4] == {late.id: 10}
    assert days[8] == {late.id: 14}
    assert 9 not in days


def test_pause_stops_new_calls_at_once_and_resume_continues(session, add_contact):
    contact = add_contact("An", "+84912000001")
    campaign = create_campaign(
        db_session=session, preset="f1_tracing_call", contact_ids=[contact.id]
    )
    start_campaign(db_session=session, campaign_id=campaign.id, now=at(2))
    dispatch_campaign(db_session=session, campaign=campaign, now=at(2))
    attempt = session.scalar(select(Attempt))
    pause_campaign(db_session=session, campaign_id=campaign.id)
    session.commit()
    assert tasks.place_call(attempt.id, now=at(2)) == "paused"
    session.expire_all()
    assert session.scalar(select(Attempt)) is None
    assert dispatch_campaign(db_session=session, campaign=campaign, now=at(2)) == 0
    resume_campaign(db_session=session, campaign_id=campaign.id)
    assert dispatch_campaign(db_session=session, campaign=campaign, now=at(2)) == 1
    session.rollback()


def test_an_sms_campaign_texts_sms_capable_numbers_once_each(session, add_contact, personas_file):
    one = add_contact("Nguyễn Văn An", "+84912000001", classification=Classification.unknown)
    two = add_contact("Trần Thị Bình", "+84912000001", classification=Classification.unknown)
    fixed = add_contact("Lê Văn Cường", "+842838000004", sms_capable=False)
    campaign = create_campaign(
        db_session=session, preset="returnee_sms", contact_ids=[one.id, two.id, fixed.id], cps=10
    )
    start_campaign(db_session=session, campaign_id=campaign.id)
    session.commit()
    use_simulator(personas=personas_file("version: 1\ndefault: {answer: 1.0}\nnumbers: {}\n"),
                  time_factor=0.001, cps=100)  # fmt: skip
    assert run_until_done(campaign_id=campaign.id, timeout=60)["status"] == "completed"
    session.expire_all()
    messages = session.scalars(select(Message)).all()
    assert [m.to_number for m in messages] == ["+84912000001"]
    assert messages[0].encoding.value == "gsm7"  # the preset strips diacritics
    assert "Nguyen Van An" in messages[0].body  # one SMS for the household, to its first name
    rows = {
        r["name"]: r
        for r in results(db_session=session, campaign=session.get(Campaign, campaign.id))
    }
    assert rows["Nguyễn Văn An"]["sms"] == rows["Trần Thị Bình"]["sms"]
    assert rows["Nguyễn Văn An"]["outcome"] == "reached"
    assert rows["Lê Văn Cường"]["outcome"] == "unreached" and rows["Lê Văn Cường"]["sms"] == []
    assert session.get(Campaign, campaign.id).status is CampaignStatus.completed


def test_presets_are_checked_with_file_and_line(tmp_path: Path):
    root = Path(__file__).resolve().parents[2]
    for folder in ("ivr_flows", "sms", "importers"):
        (tmp_path / folder).symlink_to(root / folder)
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "bad.yaml").write_text(
        "version: 1\nkind: call_then_sms\nflow: f1_tracing\nsms_template: nowhere\n"
        "audience: {classification: F1, unit: 769}\n",
        encoding="utf-8",
    )
    content, problems = load_content(tmp_path)
    assert problems == []
    (bad,) = content.in_folder("campaigns")
    found = [str(p) for p in check_preset(bad, content)]
    assert any("campaigns/bad.yaml" in p and ":4" in p and "sms/nowhere.yaml" in p for p in found)
    assert any(":5" in p and "unknown audience key 'unit'" in p for p in found)
