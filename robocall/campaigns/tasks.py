"""rq jobs: dial one attempt, send one target's SMS, recover an attempt whose callbacks were lost.

place_call checks everything again when it dials: the campaign still running, the window open
now, the number not opted out, a concurrency slot and a rate slot. The attempt is claimed
(queued → dialling) and committed before the provider is asked, so a worker killed mid-dial
leaves a trace the sweeper resolves by asking the provider, never by dialling blindly again.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from robocall.campaigns.limits import (
    REDIS_DOWN,
    ConcurrencyLimiter,
    RateLimiter,
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
from robocall.campaigns.service import window_of
from robocall.config import get_settings
from robocall.contacts.service import is_opted_out
from robocall.db import session_scope, utcnow
from robocall.kit.masking import mask_phone
from robocall.telephony import service as telephony
from robocall.telephony.base import ProviderRejected, ProviderUnavailable, ProviderUncertain
from robocall.workers.connection import get_redis

log = logging.getLogger(__name__)

UNAVAILABLE_BACKOFF = dt.timedelta(seconds=5)  # provider busy (429/5xx): try again after this
NO_SLOT_BACKOFF = dt.timedelta(seconds=1)
# With every concurrency slot taken, a worker asks again every SLOT_POLL seconds for up to
# SLOT_WAIT (calls end all the time in a busy campaign), then gives the attempt back.
SLOT_WAIT = dt.timedelta(seconds=1)
SLOT_POLL = 0.02
REDIS_DOWN_BACKOFF = dt.timedelta(seconds=2)  # Redis unreachable: not dialled, try after this
UNCERTAIN_LOOKBACK = dt.timedelta(seconds=10)  # provider clocks may differ a little


def _give_back(
    db_session: Session,
    attempt: Attempt,
    target: Target,
    next_at: dt.datetime,
    status: TargetStatus,
) -> None:
    """Not dialled: the attempt does not count; the target waits for `next_at`."""
    db_session.delete(attempt)
    db_session.flush()
    target.attempts_made = max(target.attempts_made - 1, 0)
    target.status = status
    target.next_at = next_at


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


def place_calls(attempt_ids: list[int]) -> str:
    """Dial several claimed attempts one after another (the rq job); what happened, counted.

    The scheduler gives a worker as many attempts as it dials in a fraction of a second at
    the campaign's rate, so that a busy campaign does not pay rq's bookkeeping on every call.
    Each is dialled exactly as by place_call; once one found every concurrency slot taken
    for the whole wait, the rest of the batch does not wait again but is given back at once
    if no slot is free.
    """
    outcomes: dict[str, int] = {}
    slot_wait = SLOT_WAIT
    for attempt_id in attempt_ids:
        outcome = place_call(attempt_id, slot_wait=slot_wait)
        if outcome == "no_slot":
            slot_wait = dt.timedelta(0)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return ", ".join(f"{outcome} {count}" for outcome, count in sorted(outcomes.items()))


def place_call(
    attempt_id: int, now: dt.datetime | None = None, *, slot_wait: dt.timedelta = SLOT_WAIT
) -> str:
    """Dial one claimed attempt (the rq job); returns what happened, in a word."""
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
        account=get_settings().twilio_account_sid,
        caller_id=dial.caller_id,
        per_second=dial.per_second,
    )
    if not wait_for_rate_slot(limiter):
        return _not_dialled(attempt_id, REDIS_DOWN_BACKOFF)
    query = {
        "flow": dial.flow or "",
        "attempt": str(attempt_id),
        "contact": str(dial.contact_id or ""),
    }
    with session_scope() as db_session:
        try:
            call = telephony.place_call(
                db_session=db_session,
                to=dial.phone,
                answer_url=telephony.webhook_url(telephony.VOICE_PATH, query),
                machine_detection=dial.amd,
                caller_id=dial.caller_id,
            )
        except ProviderUnavailable:
            db_session.rollback()
            return _not_dialled(attempt_id, UNAVAILABLE_BACKOFF)
        except ProviderRejected as exc:
            db_session.rollback()
            _rejected(attempt_id, exc.code)
            return "rejected"
        except ProviderUncertain:
            db_session.rollback()
            return _after_uncertain(attempt_id)
        _adopt(db_session, attempt_id, call.sid)
    log.info(
        "campaign %s attempt %s dialled %s", dial.campaign_id, attempt_id, mask_phone(dial.phone)
    )
    return "placed"


@dataclass(frozen=True)
class _Full:
    """Every concurrency slot of the campaign is taken (nothing was changed)."""

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


def _claim_for_dialling(
    attempt_id: int, now: dt.datetime | None, *, polled: bool, give_up: bool
) -> _Dial | _Full | str:
    """Check everything again and claim the attempt for dialling (queued → dialling).

    Returns what to dial, or why not, in a word. With every slot
    taken it changes nothing and returns _Full (ask again when a slot frees), unless
    `give_up`: then the attempt is given back for later ("no_slot").
    """
    with session_scope() as db_session:
        attempt = db_session.get(Attempt, attempt_id)
        if attempt is None or attempt.status != AttemptStatus.queued:
            return "already_handled"
        target = db_session.get(Target, attempt.target_id)
        campaign = db_session.get(Campaign, attempt.campaign_id)
        assert target is not None and campaign is not None and target.phone is not None
        at = now or utcnow()
        window = window_of(campaign)
        if campaign.status == CampaignStatus.cancelled:
            _give_back(db_session, attempt, target, at, TargetStatus.cancelled)
            return "cancelled"
        if campaign.status != CampaignStatus.running:
            _give_back(db_session, attempt, target, at, TargetStatus.pending)
            return "paused"
        if not window.is_open(at):
            _give_back(db_session, attempt, target, window.next_open(at), TargetStatus.pending)
            return "window_closed"
        if is_opted_out(db_session=db_session, phone=target.phone):
            _give_back(db_session, attempt, target, at, TargetStatus.opted_out)
            return "opted_out"
        slots = ConcurrencyLimiter(
            get_redis(),
            scope=concurrency_scope(campaign.id),
            limit=campaign.max_concurrent,
            max_call_seconds=MAX_CALL_SECONDS,
            counted_by=lambda: _calls_at_provider(db_session, campaign_id=attempt.campaign_id),
            # Looked for once per job, not on every poll while the cap is full.
            ended_of=None if polled else lambda keys: _ended(db_session, keys),
        )
        try:
            free = slots.try_acquire(slot_key(attempt.id))
        except REDIS_DOWN as exc:
            log.warning("attempt %s not dialled: Redis unreachable (%s)", attempt.id, exc)
            _give_back(db_session, attempt, target, at + REDIS_DOWN_BACKOFF, TargetStatus.pending)
            return "redis_unavailable"
        if not free:
            if not give_up:
                db_session.rollback()
                return _Full(slots)
            _give_back(db_session, attempt, target, at + NO_SLOT_BACKOFF, TargetStatus.pending)
            return "no_slot"
        claimed = db_session.execute(
            update(Attempt)
            .where(Attempt.id == attempt.id, Attempt.status == AttemptStatus.queued)
            .values(status=AttemptStatus.dialling, dialled_at=utcnow())
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return "already_handled"
        return _Dial(
            phone=target.phone,
            flow=campaign.flow,
            caller_id=campaign.caller_id,
            amd=campaign.amd,
            contact_id=target.contact_ids[0] if target.contact_ids else None,
            campaign_id=campaign.id,
            per_second=campaign.calls_per_second,
        )


def _calls_at_provider(db_session: Session, *, campaign_id: int) -> set[str]:
    """The slot keys of the campaign's calls the database shows at the provider.

    Used to count the calls in flight again after Redis lost them. Attempts still queued do
    not hold a slot: each takes one, in the same transaction that marks it dialling.
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


def _adopt(db_session: Session, attempt_id: int, call_sid: str) -> None:
    """The provider has the call: tie it to the attempt (its outcome may already be known)."""
    attempt = db_session.get(Attempt, attempt_id, with_for_update=True)
    if attempt is None or attempt.status != AttemptStatus.dialling:
        # The sweeper gave the attempt up while the provider was still answering.
        log.warning(
            "call %s placed for attempt %s that is no longer dialling", call_sid, attempt_id
        )
        return
    attempt.status = AttemptStatus.placed
    attempt.call_sid = call_sid
    db_session.flush()
    call = telephony.get_call(db_session=db_session, call_sid=call_sid)
    if call is not None and call.status.is_final:
        apply_call_outcome(db_session=db_session, attempt=attempt, call=call)


def _not_dialled(attempt_id: int, backoff: dt.timedelta) -> str:
    with session_scope() as db_session:
        attempt = db_session.get(Attempt, attempt_id, with_for_update=True)
        if attempt is None or attempt.status != AttemptStatus.dialling:
            return "already_handled"
        target = db_session.get(Target, attempt.target_id)
        campaign = db_session.get(Campaign, attempt.campaign_id)
        assert target is not None and campaign is not None
        release_slot(campaign, attempt.id)
        _give_back(db_session, attempt, target, utcnow() + backoff, TargetStatus.pending)
    return "provider_unavailable"


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


def _after_uncertain(attempt_id: int) -> str:
    """The provider may have dialled: look before dialling again."""
    with session_scope() as db_session:
        attempt = db_session.get(Attempt, attempt_id)
        if attempt is None or attempt.status != AttemptStatus.dialling:
            return "already_handled"
        target = db_session.get(Target, attempt.target_id)
        assert target is not None and target.phone is not None and attempt.dialled_at is not None
        phone, since = target.phone, attempt.dialled_at - UNCERTAIN_LOOKBACK
    try:
        listed = telephony.recent_calls_to(to=phone, since=since)
    except (ProviderUnavailable, ProviderUncertain):
        return "uncertain"  # the sweeper looks again later
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
        telephony.refresh_call(db_session=db_session, call_sid=found[0].sid)
        _adopt(db_session, attempt_id, found[0].sid)
    return "placed"


def recover_attempt(attempt_id: int, now: dt.datetime | None = None) -> str:
    """An attempt stuck dialling or placed: ask the provider what became of it."""
    with session_scope() as db_session:
        attempt = db_session.get(Attempt, attempt_id)
        if attempt is None:
            return "gone"
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
            return "uncertain"
        return "refreshed"
    return "nothing"


def send_sms(target_id: int) -> str:
    """Send one target's campaign SMS (claimed by the scheduler: sms_state sending)."""
    from robocall.sms.campaign import send_target_sms

    return send_target_sms(target_id=target_id)
