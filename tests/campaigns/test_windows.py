"""Done when 2: calling windows judged in Asia/Ho_Chi_Minh with a controlled clock."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from robocall.campaigns import tasks
from robocall.campaigns.dispatch import dispatch_campaign
from robocall.campaigns.models import Attempt, AttemptStatus, Campaign, Target, TargetStatus
from robocall.campaigns.outcomes import apply_call_outcome
from robocall.campaigns.service import create_campaign, start_campaign
from robocall.telephony.base import CallDirection, CallStatus
from robocall.telephony.models import Call

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def vn(hour: int, minute: int = 0, day: int = 2) -> dt.datetime:
    """A time on Monday 2 Aug 2021 (day=2) in Vietnam, as UTC."""
    return dt.datetime(2021, 8, day, hour, minute, tzinfo=VN).astimezone(dt.UTC)


@pytest.fixture(params=["UTC", "America/New_York"], autouse=True)
def server_zone(request: pytest.FixtureRequest) -> Iterator[str]:
    """The server's own zone must not matter."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    yield request.param
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


def _campaign(session, add_contact, phones, *, now, days="mon-sun"):
    contacts = [add_contact(f"Người {i}", p) for i, p in enumerate(phones)]
    campaign = create_campaign(
        db_session=session,
        preset="f1_tracing_call",
        contact_ids=[c.id for c in contacts],
        days=days,
        cps=10,
        max_concurrent=10,
    )
    start_campaign(db_session=session, campaign_id=campaign.id, now=now)
    session.commit()
    return campaign


def test_nothing_is_claimed_outside_the_window_and_targets_wait_for_it(session, add_contact):
    # 21:00 in Vietnam (14:00 UTC; 10:00 in New York): closed, whatever the server's zone.
    campaign = _campaign(session, add_contact, ["+84912000001"], now=vn(21))
    target = session.scalar(select(Target))
    assert target.next_at == vn(8, day=3)  # the next morning, 08:00 in Vietnam
    assert dispatch_campaign(db_session=session, campaign=campaign, now=vn(21)) == 0
    assert dispatch_campaign(db_session=session, campaign=campaign, now=vn(7, 59, day=3)) == 0
    # Lunch break 11:30–13:30 is closed too.
    assert dispatch_campaign(db_session=session, campaign=campaign, now=vn(12, day=3)) == 0
    assert session.scalar(select(Attempt)) is None
    assert dispatch_campaign(db_session=session, campaign=campaign, now=vn(8, 0, day=3)) == 1
    session.rollback()  # nothing enqueued: the test only wanted to see the claim


def test_the_window_is_judged_again_when_dialling(session, add_contact):
    campaign = _campaign(session, add_contact, ["+84912000001"], now=vn(11, 29))
    dispatch_campaign(db_session=session, campaign=campaign, now=vn(11, 29))
    attempt = session.scalar(select(Attempt))
    session.commit()  # the job is enqueued; the worker picks it up after 11:30
    assert tasks.place_call(attempt.id, now=vn(11, 31)) == "window_closed"
    session.expire_all()
    target = session.scalar(select(Target))
    assert session.scalar(select(Attempt)) is None  # not dialled, so not an attempt
    assert target.status is TargetStatus.pending and target.attempts_made == 0
    assert target.next_at == vn(13, 30)
    assert session.scalar(select(Call)) is None


def test_days_of_the_week_are_the_campaigns_days(session, add_contact):
    # Saturday 7 August 2021, 09:00 in Vietnam, for a Monday–Friday campaign.
    campaign = _campaign(session, add_contact, ["+84912000001"], now=vn(9, day=7), days="mon-fri")
    assert session.scalar(select(Target)).next_at == vn(8, day=9)
    assert dispatch_campaign(db_session=session, campaign=campaign, now=vn(9, day=7)) == 0


@pytest.mark.parametrize(
    ("ended", "outcome", "expected"),
    [
        (vn(11, 20), CallStatus.no_answer, vn(13, 30)),  # +60 min falls in the lunch break
        (vn(10, 0), CallStatus.busy, vn(10, 15)),  # +15 min, still open
        (vn(19, 50), CallStatus.failed, vn(8, day=3)),  # +30 min is after 20:00
    ],
)
def test_a_retry_moves_into_the_next_open_window(session, add_contact, ended, outcome, expected):
    campaign = _campaign(session, add_contact, ["+84912000001"], now=vn(9))
    target = session.scalar(select(Target))
    target.status, target.attempts_made = TargetStatus.calling, 1
    session.add(
        Call(
            sid="CA" + "0" * 32,
            direction=CallDirection.outbound,
            to_number="+84912000001",
            from_number=campaign.caller_id,
            status=outcome,
        )
    )
    attempt = Attempt(
        campaign_id=campaign.id,
        target_id=target.id,
        number=1,
        status=AttemptStatus.placed,
        call_sid="CA" + "0" * 32,
    )
    session.add(attempt)
    session.flush()
    call = session.scalar(select(Call))
    apply_call_outcome(db_session=session, attempt=attempt, call=call, now=ended)
    assert attempt.status.value == outcome.value
    assert target.status is TargetStatus.pending
    assert target.next_at == expected
    assert session.get(Campaign, campaign.id).zone == "Asia/Ho_Chi_Minh"
