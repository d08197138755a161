"""Done when 1: a call_then_sms campaign run to the end against simulated residents."""

from __future__ import annotations

from sqlalchemy import select

from robocall.campaigns.models import Attempt, Campaign, CampaignStatus, Target
from robocall.campaigns.results import results
from robocall.campaigns.service import create_campaign, start_campaign
from robocall.contacts.models import OptOut
from robocall.contacts.service import add_opt_out
from robocall.ivr.models import CallSession
from robocall.runner import run_until_done, use_simulator
from robocall.telephony.messages import Message

ALL_DAY = "00:00-24:00"
ANSWERS_ALL = (
    "1 2 2 2 2 2 2 1"  # it's me; no fever, cough, sore throat, breathing, taste; untested; at home
)

PERSONAS = f"""
version: 1
default: {{answer: 0.0, no_answer: 1.0, seed: 1}}
numbers:
  "+84912000001": [{{answer: human, press: "{ANSWERS_ALL}"}}]
  "+84912000002": [{{answer: human, press: "{ANSWERS_ALL}"}}]
  "+84912000003": [busy, busy, no_answer]
  "+842838000004": [no_answer]
  "+84912000005": [{{answer: human, press: "2"}}]
  "+84912000006": [{{answer: human, press: "9 1"}}]
  "+84912000007": [{{answer: human, press: "{ANSWERS_ALL}"}}]
  "+84912000010": [machine, {{answer: human, press: "{ANSWERS_ALL}"}}]
"""


def test_call_then_sms_campaign_runs_to_the_end_contact_by_contact(
    session, add_contact, personas_file
):
    an = add_contact("Nguyễn Văn An", "+84912000001")
    binh = add_contact("Trần Thị Bình", "+84912000002")
    cuong = add_contact("Trần Văn Cường", "+84912000002")  # Bình's household: one call
    dung = add_contact("Lê Thị Dung", "+84912000003")  # never answers: SMS fallback
    landline = add_contact("Phạm Văn Em", "+842838000004", sms_capable=False)  # no SMS
    wrong = add_contact("Hoàng Văn Giang", "+84912000005")
    stopper = add_contact("Vũ Thị Hà", "+84912000006")  # presses 9 to opt out
    opted = add_contact("Đỗ Văn Khoa", "+84912000007")  # opted out before the campaign
    nophone = add_contact("Bùi Thị Lan", None)
    machine = add_contact("Ngô Văn Minh", "+84912000010")
    add_opt_out(db_session=session, phone="+84912000007", reason="asked by phone")
    people = [an, binh, cuong, dung, landline, wrong, stopper, opted, nophone, machine]
    campaign = create_campaign(
        db_session=session,
        preset="f1_tracing_call",
        contact_ids=[p.id for p in people],
        window=ALL_DAY,
        cps=20,
        max_concurrent=5,
        retry_delay_seconds=0.05,
    )
    start_campaign(db_session=session, campaign_id=campaign.id)
    session.commit()
    use_simulator(personas=personas_file(PERSONAS), time_factor=0.001, cps=100)

    final = run_until_done(campaign_id=campaign.id, timeout=60)

    assert final["status"] == "completed"
    session.expire_all()
    rows = {
        r["contact_id"]: r
        for r in results(db_session=session, campaign=session.get(Campaign, campaign.id))
    }
    outcome = {cid: r["outcome"] for cid, r in rows.items()}
    statuses = {cid: [a["status"] for a in r["attempts"]] for cid, r in rows.items()}
    assert outcome[an.id] == "reached" and statuses[an.id] == ["completed"]
    # One call for the household, recorded for both of its people, with the answers for each.
    assert statuses[binh.id] == statuses[cuong.id] == ["completed"]
    assert outcome[binh.id] == outcome[cuong.id] == "reached"
    assert rows[binh.id]["answers"] and rows[binh.id]["answers"] == rows[cuong.id]["answers"]
    household_calls = session.scalars(
        select(Attempt).join(Target).where(Target.phone == "+84912000002")
    ).all()
    assert len(household_calls) == 1
    call = session.scalar(
        select(CallSession).where(CallSession.call_sid == household_calls[0].call_sid)
    )
    assert call is not None and call.context["household_names"] == [
        "Trần Thị Bình",
        "Trần Văn Cường",
    ]
    # Three attempts as the policy allows, then the SMS (only to the SMS-capable number).
    assert statuses[dung.id] == ["busy", "busy", "no_answer"] and outcome[dung.id] == "unreached"
    assert [s["encoding"] for s in rows[dung.id]["sms"]] == ["ucs2"]
    assert rows[dung.id]["sms"][0]["segments"] >= 3
    assert statuses[landline.id] == ["no_answer"] * 3 and outcome[landline.id] == "unreached"
    assert rows[landline.id]["sms"] == []
    assert session.scalars(select(Message.to_number)).all() == ["+84912000003"]
    # Wrong number and opt-out end the calls to that number.
    assert outcome[wrong.id] == "wrong_number" and statuses[wrong.id] == ["completed"]
    assert outcome[stopper.id] == "opted_out" and statuses[stopper.id] == ["completed"]
    assert session.scalar(select(OptOut).where(OptOut.phone == "+84912000006")) is not None
    assert outcome[opted.id] == "opted_out" and statuses[opted.id] == []
    assert outcome[nophone.id] == "no_phone" and statuses[nophone.id] == []
    assert statuses[machine.id] == ["machine", "completed"] and outcome[machine.id] == "reached"
    assert session.get(Campaign, campaign.id).status is CampaignStatus.completed
