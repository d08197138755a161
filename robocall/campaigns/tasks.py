"""rq jobs: dial one attempt, send one target's SMS, recover an attempt whose callbacks were lost.

place_call checks everything again when it dials: the campaign still running, the window open
now, the number not opted out, a concurrency slot and a rate token. The attempt is claimed
(queued → dialling) and committed before the provider is asked, so a worker killed mid-dial
leaves a trace the sweeper resolves by asking the provider, never by dialling blindly again.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from robocall.campaigns.limits import REDIS_DOWN, ConcurrencyLimiter, RateLimiter, wait_for_token
from robocall.campaigns.models import (
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


def place_call(attempt_id: int, now: dt.datetime | None = None) -> str:
    """Dial one claimed attempt (the rq job); returns what happened, in a word."""
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
        client = get_redis()
        slots = ConcurrencyLimiter(
            client,
            scope=concurrency_scope(campaign.id),
            limit=campaign.max_concurrent,
            max_call_seconds=MAX_CALL_SECONDS,
            counted_by=lambda: _in_flight_keys(db_session, campaign_id=attempt.campaign_id),
        )
        try:
            free = slots.try_acquire(slot_key(attempt.id))
        except REDIS_DOWN as exc:
            log.warning("attempt %s not dialled: Redis unreachable (%s)", attempt.id, exc)
            _give_back(db_session, attempt, target, at + REDIS_DOWN_BACKOFF, TargetStatus.pending)
            return "redis_unavailable"
        if not free:
            _give_back(db_session, attempt, target, at + NO_SLOT_BACKOFF, TargetStatus.pending)
            return "no_slot"
        claimed = db_session.execute(
            update(Attempt)
            .where(Attempt.id == attempt.id, Attempt.status == AttemptStatus.queued)
            .values(status=AttemptStatus.dialling, dialled_at=utcnow())
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return "already_handled"
        phone, flow, caller_id, amd = target.phone, campaign.flow, campaign.caller_id, campaign.amd
        contact_id = target.contact_ids[0] if target.contact_ids else None
        campaign_id, per_second = campaign.id, campaign.calls_per_second
    # Committed: the attempt is ours. Wait for a rate token, then dial with no transaction open.
    limiter = RateLimiter(
        client,
        account=get_settings().twilio_account_sid,
        caller_id=caller_id,
        per_second=per_second,
    )
    if not wait_for_token(limiter):
        return _not_dialled(attempt_id, REDIS_DOWN_BACKOFF)
    query = {"flow": flow or "", "attempt": str(attempt_id), "contact": str(contact_id or "")}
    with session_scope() as db_session:
        try:
            call = telephony.place_call(
                db_session=db_session,
                to=phone,
                answer_url=telephony.webhook_url(telephony.VOICE_PATH, query),
                machine_detection=amd,
                caller_id=caller_id,
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
    log.info("campaign %s attempt %s dialled %s", campaign_id, attempt_id, mask_phone(phone))
    return "placed"


def _in_flight_keys(db_session: Session, *, campaign_id: int) -> set[str]:
    """The slot keys of the campaign's calls the database shows in flight (or about to dial)."""
    ids = db_session.scalars(
        select(Attempt.id).where(
            Attempt.campaign_id == campaign_id,
            Attempt.status.in_(
                (AttemptStatus.queued, AttemptStatus.dialling, AttemptStatus.placed)
            ),
        )
    )
    return {slot_key(attempt_id) for attempt_id in ids}


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
