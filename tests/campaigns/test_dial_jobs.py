"""Dial jobs: a busy campaign hands each worker a fraction of a second's attempts at once."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import select

from robocall.campaigns import tasks
from robocall.campaigns.dispatch import dial_batch_size, dispatch_campaign
from robocall.campaigns.models import Attempt, AttemptStatus, Campaign, Target, TargetStatus
from robocall.campaigns.outcomes import slot_key
from robocall.campaigns.service import create_campaign, start_campaign
from robocall.db import utcnow
from robocall.workers.queues import get_queue


def _campaign(session, add_contact, count: int, **options) -> Campaign:
    contacts = [add_contact(f"Người {i}", f"+8491200{i:04d}") for i in range(count)]
    campaign = create_campaign(
        db_session=session,
        preset="f1_tracing_call",
        contact_ids=[c.id for c in contacts],
        window="00:00-24:00",
        **options,
    )
    start_campaign(db_session=session, campaign_id=campaign.id)
    session.commit()
    return campaign


def test_each_dial_job_carries_a_fifth_of_a_second_of_attempts_at_the_rate(session, add_contact):
    # One attempt a job at the default of 1 call a second, ten at 50.
    assert [dial_batch_size(rate) for rate in (1, 4.9, 10, 50)] == [1, 1, 2, 10]
    campaign = _campaign(session, add_contact, 5, cps=10, max_concurrent=10)
    queue = get_queue("calls")
    queue.empty()
    assert dispatch_campaign(db_session=session, campaign=campaign, now=utcnow()) == 5
    session.commit()  # the jobs go to Redis once the attempts are committed
    jobs = queue.get_jobs()
    assert {job.func_name for job in jobs} == {"robocall.campaigns.tasks.place_calls"}
    batches = [job.args[0] for job in jobs]
    assert sorted(len(batch) for batch in batches) == [1, 2, 2]
    attempt_ids = session.scalars(select(Attempt.id).order_by(Attempt.id)).all()
    assert sorted(a for batch in batches for a in batch) == list(attempt_ids)


def test_with_the_cap_full_a_dial_job_gives_its_attempts_back_for_later(
    session, add_contact, monkeypatch
):
    monkeypatch.setattr(tasks, "SLOT_WAIT", dt.timedelta(seconds=0.2))
    campaign = _campaign(session, add_contact, 7, cps=20, max_concurrent=1)
    dispatch_campaign(db_session=session, campaign=campaign, now=utcnow())
    session.commit()
    first, *others = session.scalars(select(Attempt.id).order_by(Attempt.id)).all()
    session.rollback()  # the jobs below write from other connections
    # The first attempt is claimed (dialling) and, about to dial, takes the only slot.
    dial = tasks._claim_for_dialling(first, None, polled=False, give_up=False)
    assert isinstance(dial, tasks._Dial)
    assert dial.slots.try_acquire(slot_key(first))
    assert tasks.place_calls(others, wait=True) == "no_slot 6"
    session.expire_all()
    # Given back: the attempts are gone and do not count; each person waits for a slot.
    assert session.scalars(select(Attempt.id)).all() == [first]
    assert session.get(Attempt, first).status == AttemptStatus.dialling
    waiting = session.scalars(
        select(Target).where(Target.campaign_id == campaign.id, Target.status != "calling")
    ).all()
    assert len(waiting) == 6
    assert {(t.status, t.attempts_made) for t in waiting} == {(TargetStatus.pending, 0)}
    assert all(t.next_at is not None and t.next_at > utcnow() for t in waiting)


def test_a_worker_takes_its_next_job_while_the_last_attempts_of_one_are_dialled(monkeypatch):
    # Each attempt is "dialled" until the test lets it end.
    ended = {attempt_id: threading.Event() for attempt_id in range(1, 6)}
    began: list[int] = []

    def place_call(attempt_id: int, now=None, *, slot_wait) -> str:
        began.append(attempt_id)
        assert ended[attempt_id].wait(10)
        return "placed"

    monkeypatch.setattr(tasks, "place_call", place_call)
    tasks.finish_dialling()  # this thread's dialling threads are made anew, three of them
    monkeypatch.setattr(tasks, "DIAL_THREADS", 3)
    try:
        # Three at a time: once the first ends, the fourth (the last) begins, and the job returns.
        ended[1].set()
        assert tasks.place_calls([1, 2, 3, 4]) == "placed 1, still dialling 3"
        # The next job's attempt begins on the first dialling thread that comes free.
        ended[2].set()
        assert tasks.place_calls([5]) == "still dialling 1"
        assert sorted(began) == [1, 2, 3, 4, 5]
        assert began[3:] == [4, 5]
    finally:
        for event in ended.values():
            event.set()
        tasks.finish_dialling()  # a stopping worker waits for the calls it is dialling


def test_a_call_waiting_for_its_rate_slot_holds_none_of_the_cap(session, add_contact):
    # Cap 1: both attempts are claimed; only the one about to dial takes the slot.
    campaign = _campaign(session, add_contact, 2, cps=20, max_concurrent=1)
    dispatch_campaign(db_session=session, campaign=campaign, now=utcnow())
    session.commit()
    first, second = session.scalars(select(Attempt.id).order_by(Attempt.id)).all()
    session.rollback()
    dials = [
        tasks._claim_for_dialling(a, None, polled=False, give_up=False) for a in (first, second)
    ]
    assert all(isinstance(dial, tasks._Dial) for dial in dials)
    one, two = dials
    assert one.slots.in_flight() == []  # claimed and waiting: nothing counted yet
    assert tasks._ready_to_dial(first, one, None) is None  # just before its slot: it takes it
    assert one.slots.in_flight() == [slot_key(first)]
    assert isinstance(tasks._ready_to_dial(second, two, None), tasks._Full)
    session.expire_all()
    assert {a.status for a in session.scalars(select(Attempt))} == {AttemptStatus.dialling}
