"""rq jobs: dial one attempt, send one target's SMS, recover an attempt whose callbacks were lost.

place_call checks everything again when it dials: the campaign still running, the window open
now, the number not opted out, a concurrency slot and a rate slot. The attempt is claimed
(queued → dialling) and committed before the provider is asked, so a worker killed mid-dial
leaves a trace the sweeper resolves by asking the provider, never by dialling blindly again.
The call takes its concurrency slot only just before its rate slot (ROOM_LEAD), after a last
look at the window: a call waiting for its turn holds none of the cap.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import enum
import logging
import threading
import time
from collections import Counter
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from sqlalchemy import bindparam, case, delete, select, update
from sqlalchemy.orm import Session

from robocall.campaigns.limits import (
    REDIS_DOWN,
    ConcurrencyLimiter,
    RateLimiter,
    sleep_until,
    wait_for_rate_slot,
)
from robocall.campaigns.models import (
    AT_PROVIDER,
    IN_FLIGHT,
    Attempt,
    AttemptStatus,
    Campaign,
    CampaignStatus,
    Target,
    TargetStatus,
)
from robocall.campaigns.outcomes import (
    MAX_CALL_SECONDS,
    apply_call_outcome,
    concurrency_scope,
    mark_unreached,
    release_slot,
    slot_key,
)
from robocall.campaigns.sms import SmsOutcome, recover_target_sms, send_target_sms
from robocall.campaigns.timing import window_of
from robocall.config import get_settings
from robocall.contacts.service import any_opt_out, opted_out_for_contacts
from robocall.db import session_scope, utcnow
from robocall.kit.masking import mask_phone
from robocall.kit.windows import CallingWindow
from robocall.telephony import service as telephony
from robocall.telephony.base import ProviderRejected, ProviderUnavailable, ProviderUncertain
from robocall.telephony.models import Call
from robocall.workers.connection import get_redis

log = logging.getLogger(__name__)

UNAVAILABLE_BACKOFF = dt.timedelta(seconds=5)  # provider busy (429/5xx): try again after this
NO_SLOT_BACKOFF = dt.timedelta(seconds=1)
# With every concurrency slot taken, a worker asks again every SLOT_POLL seconds for up to
# SLOT_WAIT (calls end all the time in a busy campaign), then gives the attempt back.
SLOT_WAIT = dt.timedelta(seconds=1)
SLOT_POLL = 0.02
# Attempts a worker dials at once. Most of them wait for their rate slot: deep enough that
# the slots keep being taken while a few wait for the provider's answer or the database.
DIAL_THREADS = 8
# Seconds before its rate slot a call looks at the window once more and takes its concurrency
# slot (then it sleeps the rest of the way and dials).
ROOM_LEAD = 0.03
REDIS_DOWN_BACKOFF = dt.timedelta(seconds=2)  # Redis unreachable: not dialled, try after this
UNCERTAIN_LOOKBACK = dt.timedelta(seconds=10)  # provider clocks may differ a little


def _give_back(
    db_session: Session,
    attempt_id: int,
    target_id: int,
    next_at: dt.datetime,
    status: TargetStatus,
) -> None:
    """Not dialled: the attempt does not count; the target waits for `next_at`."""
    db_session.execute(delete(Attempt).where(Attempt.id == attempt_id))
    db_session.execute(
        update(Target)
        .where(Target.id == target_id)
        .values(
            attempts_made=case((Target.attempts_made > 0, Target.attempts_made - 1), else_=0),
            status=status,
            next_at=next_at,
        )
        .execution_options(synchronize_session=False)
    )


class DialOutcome(enum.StrEnum):
    """What became of one attempt the worker was asked to dial (or to look into)."""

    placed = "placed"  # the provider has the call
    rejected = "rejected"  # the provider refused the number for good: the attempt failed
    already_handled = "already_handled"  # another job or the sweeper settled it first
    cancelled = "cancelled"  # the campaign was cancelled: given back as cancelled
    paused = "paused"  # the campaign is paused: given back for later
    window_closed = "window_closed"  # outside the calling window: given back until it opens
    opted_out = "opted_out"  # the number opted out since it was queued
    redis_unavailable = "redis_unavailable"  # the limits could not be read: given back
    no_slot = "no_slot"  # the concurrency cap stayed full: given back for later
    provider_unavailable = "provider_unavailable"  # the provider failed: given back
    uncertain = "uncertain"  # the provider may have dialled: the sweeper looks again
    # Recovering an attempt stuck dialling or placed:
    gone = "gone"  # the attempt no longer exists
    refreshed = "refreshed"  # its call was brought up to date from the provider
    nothing = "nothing"  # nothing to recover


@dataclass(frozen=True)
class _Dial:
    """A claimed attempt (now dialling), with what the provider call needs."""

    phone: str
    flow: str | None
    caller_id: str
    amd: bool
    contact_id: int | None
    campaign_id: int
    per_second: float  # the campaign's rate limit
    window: CallingWindow
    slots: ConcurrencyLimiter  # the campaign's cap


def place_calls(attempt_ids: list[int], *, wait: bool = False) -> str:
    """Dial several claimed attempts (the rq job); what happened to those already done,
    counted.

    The scheduler gives a worker as many attempts as it dials in a fraction of a second at
    the campaign's rate, so that a busy campaign does not pay rq's bookkeeping on every call.
    Each is dialled exactly as by place_call, DIAL_THREADS at a time: while one waits for the
    provider's answer or the database, the next is claimed, so a single worker keeps up with
    the rate (the rate and concurrency slots are shared in Redis, whoever asks). Once one
    found every concurrency slot taken for the whole wait, the others no longer wait for one.

    The job returns once its last attempt has begun, not ended (`wait`: once every attempt
    is done): the worker takes its next job while the last ones are still being dialled, so
    its dialling threads never stand idle through rq's bookkeeping between two jobs, which
    left rate slots unused when one worker dialled a campaign alone.
    """
    full = threading.Event()
    last_began = threading.Event()

    def dial(index: int, attempt_id: int) -> DialOutcome:
        if index == len(attempt_ids) - 1:
            last_began.set()
        outcome = place_call(attempt_id, slot_wait=dt.timedelta(0) if full.is_set() else SLOT_WAIT)
        if outcome == DialOutcome.no_slot:
            full.set()
        return outcome

    if not attempt_ids:
        return ""
    dialler = _dialler()
    futures = [dialler.submit(dial, *item) for item in enumerate(attempt_ids)]
    for attempt_id, future in zip(attempt_ids, futures, strict=True):
        future.add_done_callback(partial(_log_failure, attempt_id))
    if wait:
        concurrent.futures.wait(futures)
    else:
        last_began.wait()
    outcomes = Counter(
        future.result() if future.exception() is None else "failed"
        for future in futures
        if future.done()
    )
    outcomes["still dialling"] = sum(not future.done() for future in futures)
    return ", ".join(f"{outcome} {count}" for outcome, count in sorted(outcomes.items()) if count)


# The dialling threads of each rq worker (a worker process's main thread, or one of the
# threads of `campaign run`): they outlive a job, so a job's last attempts overlap the next.
_diallers = threading.local()


def _dialler() -> ThreadPoolExecutor:
    pool: ThreadPoolExecutor | None = getattr(_diallers, "pool", None)
    if pool is None:
        pool = _diallers.pool = ThreadPoolExecutor(DIAL_THREADS, thread_name_prefix="dial")
    return pool


def finish_dialling() -> None:
    """Wait for the attempts this worker is still dialling, and end its dialling threads
    (when the worker stops)."""
    pool: ThreadPoolExecutor | None = getattr(_diallers, "pool", None)
    if pool is not None:
        _diallers.pool = None
        pool.shutdown(wait=True)


def _log_failure(attempt_id: int, future: concurrent.futures.Future[str]) -> None:
    # An attempt left dialling by a failure is resolved by the sweeper (recover_attempt).
    exc = future.exception()
    if exc is not None:
        log.error("dialling attempt %s failed", attempt_id, exc_info=exc)


def place_call(
    attempt_id: int, now: dt.datetime | None = None, *, slot_wait: dt.timedelta = SLOT_WAIT
) -> DialOutcome:
    """Dial one claimed attempt (the rq job); returns what happened."""
    slot_wait_ends = time.monotonic() + slot_wait.total_seconds()
    polled = False
    while True:
        claimed = _claim_for_dialling(
            attempt_id, now, polled=polled, give_up=time.monotonic() > slot_wait_ends
        )
        if isinstance(claimed, _Dial):
            dial = claimed
            break
        if not isinstance(claimed, _Full):
            return claimed
        # Every concurrency slot is taken: one frees when a call in flight ends.
        _wait_for_room(claimed.slots, until=slot_wait_ends)
        polled = True
    # Committed: the attempt is ours. Wait for a rate slot, then dial with no transaction open.
    limiter = RateLimiter(
        get_redis(),
        account=get_settings().telephony_account,
        caller_id=dial.caller_id,
        per_second=dial.per_second,
    )
    query = {
        "flow": dial.flow or "",
        "attempt": str(attempt_id),
        "contact": str(dial.contact_id or ""),
    }
    answer_url = telephony.webhook_url(telephony.VOICE_PATH, query)
    room_wait_ends = time.monotonic() + slot_wait.total_seconds()
    while True:
        ask_by = wait_for_rate_slot(limiter, lead=ROOM_LEAD)
        if ask_by is None:
            return _not_dialled(attempt_id, REDIS_DOWN_BACKOFF)
        ready = _ready_to_dial(attempt_id, dial, now)
        if isinstance(ready, _Full):
            # The cap filled since the claim: this rate slot goes by unused.
            if time.monotonic() > room_wait_ends:
                return _not_dialled(attempt_id, NO_SLOT_BACKOFF, word=DialOutcome.no_slot)
            _wait_for_room(dial.slots, until=room_wait_ends)
            continue
        if ready is not None:
            return ready
        sleep_until(limiter.slot_at)
        with session_scope() as db_session:
            try:
                call = telephony.place_call(
                    db_session=db_session,
                    to=dial.phone,
                    answer_url=answer_url,
                    machine_detection=dial.amd,
                    caller_id=dial.caller_id,
                    ask_by=ask_by,
                )
            except telephony.TooLate:
                continue  # nothing asked, nothing written: the call takes the next slot
            except ProviderUnavailable:
                db_session.rollback()
                return _not_dialled(attempt_id, UNAVAILABLE_BACKOFF)
            except ProviderRejected as exc:
                db_session.rollback()
                _rejected(attempt_id, exc.code)
                return DialOutcome.rejected
            except ProviderUncertain:
                db_session.rollback()
                return _after_uncertain(attempt_id)
            _adopt(db_session, attempt_id, call)
        break
    log.info(
        "campaign %s attempt %s dialled %s", dial.campaign_id, attempt_id, mask_phone(dial.phone)
    )
    return DialOutcome.placed


def _ready_to_dial(
    attempt_id: int, dial: _Dial, now: dt.datetime | None
) -> _Full | DialOutcome | None:
    """Just before the rate slot: the window still open, and a concurrency slot taken (no
    transaction: on SQLite it would wait for the write lock). None when the call may go;
    _Full when the cap is full now; otherwise why not, in a word (the attempt given back)."""
    at = (now or utcnow()) + dt.timedelta(seconds=ROOM_LEAD)
    if not dial.window.is_open(at):
        return _not_dialled(attempt_id, dial.window.next_open(at), word=DialOutcome.window_closed)
    try:
        if not dial.slots.try_acquire(slot_key(attempt_id)):
            return _Full(dial.slots)
    except REDIS_DOWN as exc:
        log.warning("attempt %s not dialled: Redis unreachable (%s)", attempt_id, exc)
        return _not_dialled(attempt_id, REDIS_DOWN_BACKOFF, word=DialOutcome.redis_unavailable)
    return None


@dataclass(frozen=True)
class _Full:
    """Every concurrency slot of the campaign is taken (this call took none)."""

    slots: ConcurrencyLimiter


def _wait_for_room(slots: ConcurrencyLimiter, *, until: float) -> None:
    """Sleep until a slot looks free (Redis only, no transaction), or until `until`."""
    while time.monotonic() < until:
        try:
            if slots.has_room():
                return
        except REDIS_DOWN:
            return  # the claim itself deals with Redis being away
        time.sleep(SLOT_POLL)


# What the claim needs to know, in one statement: the attempt, its number, its campaign's
# settings, and whether the number opted out.
_CLAIM_VIEW = (
    select(
        Attempt.status.label("attempt_status"),
        Attempt.target_id,
        Attempt.campaign_id,
        Target.phone,
        Target.contact_ids,
        Campaign.status.label("campaign_status"),
        Campaign.window_ranges,
        Campaign.window_days,
        Campaign.zone,
        Campaign.max_concurrent,
        Campaign.flow,
        Campaign.caller_id,
        Campaign.amd,
        Campaign.calls_per_second,
        any_opt_out(Target.phone).label("any_opt_out"),
    )
    .join(Target, Target.id == Attempt.target_id)
    .join(Campaign, Campaign.id == Attempt.campaign_id)
    .where(Attempt.id == bindparam("attempt_id"))
)
_MARK_DIALLING = (
    update(Attempt)
    .where(Attempt.id == bindparam("attempt_id"), Attempt.status == AttemptStatus.queued)
    .values(status=AttemptStatus.dialling, dialled_at=bindparam("dialled_at"))
    .execution_options(synchronize_session=False)
)


def _claim_for_dialling(
    attempt_id: int, now: dt.datetime | None, *, polled: bool, give_up: bool
) -> _Dial | _Full | DialOutcome:
    """Check everything again and claim the attempt for dialling (queued → dialling).

    Returns what to dial, or why not, in a word. With every slot
    taken it changes nothing and returns _Full (ask again when a slot frees), unless
    `give_up`: then the attempt is given back for later ("no_slot").
    """
    with session_scope() as db_session:
        row = db_session.execute(_CLAIM_VIEW, {"attempt_id": attempt_id}).one_or_none()
        if row is None or row.attempt_status != AttemptStatus.queued:
            return DialOutcome.already_handled
        assert row.phone is not None
        at = now or utcnow()

        def give_back(next_at: dt.datetime, status: TargetStatus, word: DialOutcome) -> DialOutcome:
            _give_back(db_session, attempt_id, row.target_id, next_at, status)
            return word

        if row.campaign_status == CampaignStatus.cancelled:
            return give_back(at, TargetStatus.cancelled, DialOutcome.cancelled)
        if row.campaign_status != CampaignStatus.running:
            return give_back(at, TargetStatus.pending, DialOutcome.paused)
        window = window_of(row)
        if not window.is_open(at):
            return give_back(window.next_open(at), TargetStatus.pending, DialOutcome.window_closed)
        if row.any_opt_out and opted_out_for_contacts(
            db_session=db_session, phone=row.phone, contact_ids=row.contact_ids
        ):
            return give_back(at, TargetStatus.opted_out, DialOutcome.opted_out)
        # Only a look, inside this transaction: the call takes its slot just before its rate
        # slot (_ready_to_dial), with a limiter that outlives this session.
        look = _campaign_slots(
            row.campaign_id, row.max_concurrent, db_session=db_session, polled=polled
        )
        slots = _campaign_slots(row.campaign_id, row.max_concurrent)
        try:
            free = look.has_room_for(slot_key(attempt_id))
        except REDIS_DOWN as exc:
            log.warning("attempt %s not dialled: Redis unreachable (%s)", attempt_id, exc)
            return give_back(
                at + REDIS_DOWN_BACKOFF, TargetStatus.pending, DialOutcome.redis_unavailable
            )
        if not free:
            if not give_up:
                db_session.rollback()
                return _Full(slots)
            return give_back(at + NO_SLOT_BACKOFF, TargetStatus.pending, DialOutcome.no_slot)
        claimed = db_session.execute(
            _MARK_DIALLING, {"attempt_id": attempt_id, "dialled_at": utcnow()}
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return DialOutcome.already_handled
        return _Dial(
            phone=row.phone,
            flow=row.flow,
            caller_id=row.caller_id,
            amd=row.amd,
            contact_id=row.contact_ids[0] if row.contact_ids else None,
            campaign_id=row.campaign_id,
            per_second=row.calls_per_second,
            window=window,
            slots=slots,
        )


def _campaign_slots(
    campaign_id: int, limit: int, *, db_session: Session | None = None, polled: bool = False
) -> ConcurrencyLimiter:
    """The campaign's concurrency cap in Redis, counted again from the database if Redis lost
    it (in `db_session`'s transaction, or each time in a new one). Calls the database shows
    ended are looked for when it is full, once per job: not on every poll (`polled`) while
    waiting for room."""

    def counted_by() -> set[str]:
        if db_session is not None:
            return _calls_at_provider(db_session, campaign_id=campaign_id)
        with session_scope() as own:
            return _calls_at_provider(own, campaign_id=campaign_id)

    def ended_of(keys: Collection[str]) -> set[str]:
        if db_session is not None:
            return _ended(db_session, keys)
        with session_scope() as own:
            return _ended(own, keys)

    return ConcurrencyLimiter(
        get_redis(),
        scope=concurrency_scope(campaign_id),
        limit=limit,
        max_call_seconds=MAX_CALL_SECONDS,
        counted_by=counted_by,
        ended_of=None if polled else ended_of,
    )


def _calls_at_provider(db_session: Session, *, campaign_id: int) -> set[str]:
    """The slot keys of the campaign's calls the database shows at the provider.

    Used to count the calls in flight again after Redis lost them. Attempts still queued do
    not hold a slot; those dialling take theirs just before their rate slot, and count here
    from the claim on (on the safe side: a call counted again keeps its one slot).
    """
    ids = db_session.scalars(
        select(Attempt.id).where(
            Attempt.campaign_id == campaign_id,
            Attempt.status.in_(AT_PROVIDER),
        )
    )
    return {slot_key(attempt_id) for attempt_id in ids}


def _ended(db_session: Session, keys: Collection[str]) -> set[str]:
    """Of these slot keys, those whose attempts the database shows ended (or gone)."""
    ids = {int(key.split(":", 1)[1]) for key in keys if key.startswith("attempt:")}
    live = set(
        db_session.scalars(
            select(Attempt.id).where(
                Attempt.id.in_(ids),
                Attempt.status.in_(IN_FLIGHT),
            )
        )
    )
    return {slot_key(attempt_id) for attempt_id in ids - live}


_MARK_PLACED = (
    update(Attempt)
    .where(Attempt.id == bindparam("attempt_id"), Attempt.status == AttemptStatus.dialling)
    .values(status=AttemptStatus.placed, call_sid=bindparam("call_sid"))
    .execution_options(synchronize_session=False)
)


def _adopt(db_session: Session, attempt_id: int, call: Call) -> None:
    """The provider has the call: tie it to the attempt (its outcome may already be known)."""
    adopted = db_session.execute(_MARK_PLACED, {"attempt_id": attempt_id, "call_sid": call.sid})
    if adopted.rowcount != 1:  # type: ignore[attr-defined]
        # The sweeper gave the attempt up while the provider was still answering.
        log.warning(
            "call %s placed for attempt %s that is no longer dialling", call.sid, attempt_id
        )
        return
    if call.status.is_final:  # its final callback came before the provider's answer
        attempt = db_session.get(Attempt, attempt_id, with_for_update=True, populate_existing=True)
        assert attempt is not None
        apply_call_outcome(db_session=db_session, attempt=attempt, call=call)


def _not_dialled(
    attempt_id: int,
    wait: dt.timedelta | dt.datetime | None,
    *,
    status: TargetStatus = TargetStatus.pending,
    word: DialOutcome = DialOutcome.provider_unavailable,
) -> DialOutcome:
    """Give a claimed (dialling) attempt back: it does not count; the target waits `wait`
    (a delay, or until a moment; None: not at all)."""
    with session_scope() as db_session:
        attempt = db_session.get(Attempt, attempt_id, with_for_update=True)
        if attempt is None or attempt.status != AttemptStatus.dialling:
            return DialOutcome.already_handled
        campaign = db_session.get(Campaign, attempt.campaign_id)
        assert campaign is not None
        release_slot(campaign, attempt.id)
        at = utcnow()
        next_at = wait if isinstance(wait, dt.datetime) else at + (wait or dt.timedelta(0))
        _give_back(db_session, attempt.id, attempt.target_id, next_at, status)
    return word


def _rejected(attempt_id: int, code: int | None) -> None:
    with session_scope() as db_session:
        attempt = db_session.get(Attempt, attempt_id, with_for_update=True)
        if attempt is None or attempt.status != AttemptStatus.dialling:
            return
        target = db_session.get(Target, attempt.target_id, with_for_update=True)
        campaign = db_session.get(Campaign, attempt.campaign_id)
        assert target is not None and campaign is not None
        release_slot(campaign, attempt.id)
        attempt.status, attempt.error_code, attempt.ended_at = AttemptStatus.failed, code, utcnow()
        if target.status == TargetStatus.calling:
            mark_unreached(db_session=db_session, campaign=campaign, target=target)


def _after_uncertain(attempt_id: int) -> DialOutcome:
    """The provider may have dialled: look before dialling again."""
    with session_scope() as db_session:
        attempt = db_session.get(Attempt, attempt_id)
        if attempt is None or attempt.status != AttemptStatus.dialling:
            return DialOutcome.already_handled
        target = db_session.get(Target, attempt.target_id)
        assert target is not None and target.phone is not None and attempt.dialled_at is not None
        phone, since = target.phone, attempt.dialled_at - UNCERTAIN_LOOKBACK
    try:
        listed = telephony.recent_calls_to(to=phone, since=since)
    except (ProviderUnavailable, ProviderUncertain):
        return DialOutcome.uncertain  # the sweeper looks again later
    with session_scope() as db_session:
        # A call another attempt already owns (an earlier try to the same number) is not ours.
        owned = set(
            db_session.scalars(
                select(Attempt.call_sid).where(Attempt.call_sid.in_([c.sid for c in listed]))
            )
        )
    found = [c for c in listed if c.sid not in owned]
    if not found:
        return _not_dialled(attempt_id, UNAVAILABLE_BACKOFF)
    with session_scope() as db_session:
        call = telephony.refresh_call(db_session=db_session, call_sid=found[0].sid)
        _adopt(db_session, attempt_id, call)
    return DialOutcome.placed


def recover_attempt(attempt_id: int, now: dt.datetime | None = None) -> DialOutcome:
    """An attempt stuck dialling or placed: ask the provider what became of it."""
    with session_scope() as db_session:
        attempt = db_session.get(Attempt, attempt_id)
        if attempt is None:
            return DialOutcome.gone
        status, call_sid = attempt.status, attempt.call_sid
    if status == AttemptStatus.dialling:
        return _after_uncertain(attempt_id)
    if status == AttemptStatus.placed and call_sid:
        try:
            with session_scope() as db_session:
                call = telephony.refresh_call(db_session=db_session, call_sid=call_sid)
                attempt = db_session.get(Attempt, attempt_id, with_for_update=True)
                if attempt is not None and call.status.is_final:
                    apply_call_outcome(db_session=db_session, attempt=attempt, call=call)
        except (ProviderUnavailable, ProviderUncertain):
            return DialOutcome.uncertain
        return DialOutcome.refreshed
    return DialOutcome.nothing


def send_sms(target_id: int) -> SmsOutcome:
    """Send one target's campaign SMS (claimed by the scheduler: sms_state sending)."""
    return send_target_sms(target_id=target_id)


def recover_sms(target_id: int) -> SmsOutcome:
    """A worker died while sending this target's SMS: find out whether it went."""
    return recover_target_sms(target_id=target_id)
