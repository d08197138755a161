"""The scheduler's side of dispatch: claim due targets, create attempts, enqueue after commit.

Claims are single UPDATEs guarded by the target's status, so several schedulers or workers
never claim the same target twice (SQLite serialises writers; PostgreSQL re-checks the row).
The worker judges the calling window again when it dials (tasks.place_call).
"""

from __future__ import annotations

import datetime as dt
import logging
import math

import redis
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from robocall.campaigns.models import (
    AT_PROVIDER,
    IN_FLIGHT,
    Attempt,
    AttemptStatus,
    Campaign,
    CampaignKind,
    CampaignStatus,
    SmsState,
    Target,
    TargetStatus,
)
from robocall.campaigns.rounds import finish_if_done, open_due_round
from robocall.campaigns.timing import window_of
from robocall.config import get_settings
from robocall.db import session_scope, utcnow
from robocall.workers.queues import enqueue_after_commit

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
_TICK = dt.timedelta(seconds=TICK_SECONDS)
# A dial job's outcome is in the database (the attempt): rq need not keep its result, which
# saves the worker Redis writes on every call.
DIAL_JOB = {"result_ttl": 0}
# A dial job carries the attempts one worker dials in this long at the campaign's rate (one at
# the default of 1 call a second, ten at 50): rq's bookkeeping, some twenty Redis round trips
# a job, is paid once for them, and several workers still share the second's calls.
DIAL_BATCH_SECONDS = 0.2
STALE_BATCH = 10  # attempts a job when the sweeper queues lost ones again
QUEUE_AHEAD = 1.5  # ticks of work kept queued, so the workers never wait for the next tick
REQUEUE_AFTER = dt.timedelta(seconds=30)  # a queued attempt whose job never ran (Redis lost it)
DIALLING_STUCK_AFTER = dt.timedelta(seconds=90)  # at least; see _dialling_stuck_after
PLACED_STUCK_AFTER = dt.timedelta(minutes=5)
# A claimed SMS not recorded this long after (three 15 s tries of the provider fit within)
# lost its worker: the provider is asked whether it went.
SMS_STUCK_AFTER = dt.timedelta(seconds=90)  # no callback moved the call on for this long


def _claim_targets(
    db_session: Session, campaign_id: int, target_ids: list[int], now: dt.datetime
) -> list[int]:
    """Claim the targets still pending (pending → calling) and create an attempt for each.

    One UPDATE guarded by the status and one INSERT for the lot: the tick holds the write
    lock for as short a time as it can (webhooks and workers wait for it on SQLite).
    Returns the new attempts' ids, in the order of `target_ids`.
    """
    if not target_ids:
        return []
    claimed = dict(
        db_session.execute(
            update(Target)
            .where(Target.id.in_(target_ids), Target.status == TargetStatus.pending)
            .values(
                status=TargetStatus.calling,
                attempts_made=Target.attempts_made + 1,
                updated_at=now,
            )
            .returning(Target.id, Target.attempts_made)
            .execution_options(synchronize_session=False)
        ).all()
    )
    rows = [
        {
            "campaign_id": campaign_id,
            "target_id": target_id,
            "number": claimed[target_id],
            "status": AttemptStatus.queued,
            "created_at": now,
        }
        for target_id in target_ids
        if target_id in claimed
    ]
    if not rows:
        return []
    return list(
        db_session.scalars(
            insert(Attempt).returning(Attempt.id, sort_by_parameter_order=True), rows
        )
    )


def dial_batch_size(calls_per_second: float) -> int:
    return max(1, int(calls_per_second * DIAL_BATCH_SECONDS))


def enqueue_dials(db_session: Session, attempt_ids: list[int], size: int) -> None:
    """Send the attempts to the workers, `size` a job, once `db_session` commits."""
    from robocall.campaigns import tasks

    # A job may run as long as every attempt waiting for a slot and then timing out.
    each = (tasks.SLOT_WAIT + _dialling_stuck_after()).total_seconds()
    for start in range(0, len(attempt_ids), size):
        batch = attempt_ids[start : start + size]
        enqueue_after_commit(
            db_session,
            tasks.place_calls,
            batch,
            queue="calls",
            rq_options={**DIAL_JOB, "job_timeout": math.ceil(len(batch) * each)},
        )


def _call_budget(db_session: Session, campaign: Campaign, now: dt.datetime) -> int:
    """How many attempts to queue now: enough for the workers to dial at the full rate until
    the next tick, and no more than the concurrency cap will let them dial soon.

    The cap counts calls at the provider (dialling or placed); the worker enforces it in
    Redis when it dials, waiting a little for a slot. Slots expected to free before the next
    tick count as free: as many as calls ended in the last tick, or, while the campaign
    ramps up and none has ended yet, as many as were dialled in it (short calls end soon;
    with long ones the next tick sees few dialled and queues little); at the very start, a
    full tick and a half at the rate.
    """
    counts = dict(
        db_session.execute(
            select(Attempt.status, func.count(Attempt.id))
            .where(Attempt.campaign_id == campaign.id, Attempt.status.in_(IN_FLIGHT))
            .group_by(Attempt.status)
        ).all()
    )
    queued = int(counts.get(AttemptStatus.queued, 0))
    calls = sum(int(counts.get(status, 0)) for status in AT_PROVIDER)
    since = now - _TICK
    ended, dialled = db_session.execute(
        select(
            func.count(Attempt.id).filter(Attempt.ended_at >= since),
            func.count(Attempt.id).filter(Attempt.dialled_at >= since),
        ).where(Attempt.campaign_id == campaign.id)
    ).one()
    for_the_rate = math.ceil(campaign.calls_per_second * TICK_SECONDS * QUEUE_AHEAD) - queued
    if calls or ended or dialled:
        freeing = math.ceil(max(int(ended or 0), int(dialled or 0)) * QUEUE_AHEAD)
    else:
        freeing = for_the_rate  # nothing dialled yet: only the cap itself limits the start
    for_the_cap = campaign.max_concurrent - calls - queued + freeing
    return min(for_the_rate, for_the_cap)


def dispatch_campaign(*, db_session: Session, campaign: Campaign, now: dt.datetime) -> int:
    """Claim the targets due now within the free concurrency and this second's rate; enqueue."""
    from robocall.campaigns import tasks

    if campaign.status == CampaignStatus.scheduled and (
        campaign.start_at is None or campaign.start_at <= now
    ):
        campaign.status = CampaignStatus.running
        campaign.started_at = now
    if campaign.status != CampaignStatus.running:
        return 0
    open_due_round(db_session=db_session, campaign=campaign, now=now)
    enqueued = 0
    if campaign.kind != CampaignKind.sms and window_of(campaign).is_open(now):
        budget = _call_budget(db_session, campaign, now)
        if budget > 0:
            due = db_session.scalars(
                select(Target.id)
                .where(
                    Target.campaign_id == campaign.id,
                    Target.status == TargetStatus.pending,
                    Target.next_at <= now,
                )
                .order_by(Target.next_at, Target.id)
                .limit(budget)
            )
            attempt_ids = _claim_targets(db_session, campaign.id, list(due), now)
            enqueue_dials(db_session, attempt_ids, dial_batch_size(campaign.calls_per_second))
            enqueued += len(attempt_ids)
    sms_budget = math.ceil(campaign.sms_per_second * TICK_SECONDS * 1.5)
    due_sms = db_session.scalars(
        select(Target.id)
        .where(Target.campaign_id == campaign.id, Target.sms_state == SmsState.queued)
        .order_by(Target.id)
        .limit(sms_budget)
    )
    for target_id in list(due_sms):
        claimed = db_session.execute(
            update(Target)
            .where(Target.id == target_id, Target.sms_state == SmsState.queued)
            .values(sms_state=SmsState.sending, updated_at=now)
        )
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            enqueue_after_commit(db_session, tasks.send_sms, target_id, queue="sms")
            enqueued += 1
    finish_if_done(db_session=db_session, campaign=campaign, now=now)
    return enqueued


def tick(*, now: dt.datetime | None = None) -> int:
    """One scheduler tick over every campaign that may have work; each in its own commit."""
    ids = _active_campaign_ids()
    enqueued = 0
    for campaign_id in ids:
        with session_scope() as db_session:
            campaign = db_session.get(Campaign, campaign_id, with_for_update=True)
            if campaign is not None:
                enqueued += dispatch_campaign(
                    db_session=db_session, campaign=campaign, now=now or utcnow()
                )
    return enqueued


def _active_campaign_ids() -> list[int]:
    with session_scope() as db_session:
        return list(
            db_session.scalars(
                select(Campaign.id).where(
                    Campaign.status.in_([CampaignStatus.running, CampaignStatus.scheduled])
                )
            )
        )


def scheduler_tick(_client: redis.Redis, _identity: str) -> None:
    """The periodic job: dispatch every running campaign."""
    tick()


def _dialling_stuck_after() -> dt.timedelta:
    """Longer than a live create can take (every try timing out, with backoff), plus margin."""
    settings = get_settings()
    tries = max(settings.telephony_create_tries, 1)
    longest = tries * settings.telephony_request_timeout + tries * settings.telephony_retry_backoff
    return max(DIALLING_STUCK_AFTER, dt.timedelta(seconds=longest + 30))


def sweep(*, now: dt.datetime | None = None) -> int:
    """Find attempts and SMS whose job or callbacks were lost, and set them going again."""
    from robocall.campaigns import tasks

    now = now or utcnow()
    fixed = 0
    with session_scope() as db_session:
        stale_queued = list(
            db_session.scalars(
                select(Attempt.id).where(
                    Attempt.status == AttemptStatus.queued, Attempt.created_at < now - REQUEUE_AFTER
                )
            )
        )
        # Harmless if the first job still runs: only one of them claims each attempt.
        enqueue_dials(db_session, stale_queued, STALE_BATCH)
        # SMS whose job was lost before a worker took it: sent by a new job.
        stale_sms = list(
            db_session.scalars(
                select(Target.id).where(
                    Target.sms_state == SmsState.sending,
                    Target.message_sid.is_(None),
                    Target.sms_claimed_at.is_(None),
                    Target.updated_at < now - REQUEUE_AFTER,
                )
            )
        )
        for target_id in stale_sms:
            enqueue_after_commit(db_session, tasks.send_sms, target_id, queue="sms")
        # SMS a worker took and never finished: the provider is asked before anything else.
        stuck_sms = list(
            db_session.scalars(
                select(Target.id).where(
                    Target.sms_state == SmsState.sending,
                    Target.message_sid.is_(None),
                    Target.sms_claimed_at < now - SMS_STUCK_AFTER,
                )
            )
        )
        for target_id in stuck_sms:
            enqueue_after_commit(db_session, tasks.recover_sms, target_id, queue="sms")
        fixed += len(stale_queued) + len(stale_sms) + len(stuck_sms)
    with session_scope() as db_session:
        stuck = list(
            db_session.scalars(
                select(Attempt.id).where(
                    (
                        (Attempt.status == AttemptStatus.dialling)
                        & (Attempt.dialled_at < now - _dialling_stuck_after())
                    )
                    | (
                        (Attempt.status == AttemptStatus.placed)
                        & (Attempt.dialled_at < now - PLACED_STUCK_AFTER)
                    )
                )
            )
        )
    for attempt_id in stuck:
        tasks.recover_attempt(attempt_id, now=now)
        fixed += 1
    return fixed


def sweeper_job(_client: redis.Redis, _identity: str) -> None:
    """The periodic job: recover calls and SMS whose callbacks or jobs were lost."""
    sweep()
