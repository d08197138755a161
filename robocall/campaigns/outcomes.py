"""What a call's final status means for its attempt and target: done, retry, or SMS fallback."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.campaigns.models import (
    Attempt,
    AttemptStatus,
    Campaign,
    CampaignKind,
    CampaignStatus,
    SmsState,
    Target,
    TargetStatus,
)
from robocall.campaigns.timing import retry_delay, window_of
from robocall.contacts.service import (
    RESIDENT_DURING_CALL,
    add_opt_out,
    opted_out_for_contacts,
)
from robocall.db import utcnow
from robocall.ivr.models import CallSession
from robocall.kit.masking import mask_phone
from robocall.telephony.base import CallEventData
from robocall.telephony.models import Call
from robocall.workers.connection import get_redis

log = logging.getLogger(__name__)

MAX_CALL_SECONDS = 1800  # a call longer than this no longer holds a concurrency slot


def concurrency_scope(campaign_id: int) -> str:
    return f"campaign:{campaign_id}"


def slot_key(attempt_id: int) -> str:
    return f"attempt:{attempt_id}"


def release_slot(campaign: Campaign, attempt_id: int) -> None:
    """Free the attempt's concurrency slot (harmless if it held none).

    Never fails for Redis: the outcome is recorded in the database all the same, and the next
    worker to find the campaign's slots full frees those of calls the database shows ended.
    """
    from robocall.campaigns.limits import REDIS_DOWN, ConcurrencyLimiter

    try:
        ConcurrencyLimiter(
            get_redis(),
            scope=concurrency_scope(campaign.id),
            limit=campaign.max_concurrent,
            max_call_seconds=MAX_CALL_SECONDS,
        ).release(slot_key(attempt_id))
    except REDIS_DOWN as exc:
        log.warning("attempt %s: its slot is freed later, Redis unreachable (%s)", attempt_id, exc)


def attempt_status_for(call: Call) -> AttemptStatus:
    """The attempt's word for a final call status; an answering machine counts as `machine`."""
    if call.answered_by_machine:
        return AttemptStatus.machine
    return AttemptStatus(call.status.value)


def apply_call_outcome(
    *, db_session: Session, attempt: Attempt, call: Call, now: dt.datetime | None = None
) -> None:
    """The call ended: record the outcome, free the slot, then retry, finish or fall back to SMS."""
    if attempt.status.is_final or not call.status.is_final:
        return
    now = now or utcnow()
    target = db_session.get(Target, attempt.target_id, with_for_update=True)
    campaign = db_session.get(Campaign, attempt.campaign_id)
    assert target is not None and campaign is not None
    outcome = attempt_status_for(call)
    attempt.status = outcome
    attempt.answered_by = call.answered_by.value if call.answered_by else None
    attempt.duration_seconds = call.duration_seconds
    attempt.error_code = call.error_code
    attempt.ended_at = now
    release_slot(campaign, attempt.id)
    # Its IVR session was ended by the IVR's own listener on the same final status, first
    # (robocall.runtime), so what the person chose in the call (an opt-out) is known here.
    if target.status != TargetStatus.calling:
        return  # the call itself settled it (wrong number, opted out)
    if outcome == AttemptStatus.completed:
        target.status = TargetStatus.reached
        return
    settle_unanswered(
        db_session=db_session, campaign=campaign, target=target, outcome=outcome.value, now=now
    )


def settle_unanswered(
    *, db_session: Session, campaign: Campaign, target: Target, outcome: str, now: dt.datetime
) -> None:
    """No one answered: another attempt in the next open window, or unreached (and an SMS)."""
    delay = retry_delay(campaign, "failed" if outcome == "canceled" else outcome)
    if (
        delay is not None
        and target.attempts_made < campaign.max_attempts
        and campaign.status in (CampaignStatus.running, CampaignStatus.paused)
    ):
        target.status = TargetStatus.pending
        target.next_at = window_of(campaign).next_open(now + delay)
        return
    mark_unreached(db_session=db_session, campaign=campaign, target=target)


def mark_unreached(*, db_session: Session, campaign: Campaign, target: Target) -> None:
    """No call reached the target: a call_then_sms campaign texts SMS-capable numbers."""
    target.status = TargetStatus.unreached
    if campaign.kind != CampaignKind.call_then_sms or target.phone is None:
        return
    if not target.sms_capable or opted_out_for_contacts(
        db_session=db_session, phone=target.phone, contact_ids=target.contact_ids
    ):
        target.sms_state = SmsState.skipped
        return
    target.sms_state = SmsState.queued


def on_call_event(db_session: Session, call: Call, _event: CallEventData) -> None:
    """Listener for telephony: a campaign call reached its final status."""
    if not call.status.is_final:
        return
    attempt = db_session.scalar(
        select(Attempt).where(Attempt.call_sid == call.sid).with_for_update()
    )
    if attempt is None:
        return  # not a campaign call, or its attempt is recorded when the dialler commits
    apply_call_outcome(db_session=db_session, attempt=attempt, call=call)


def _target_of(db_session: Session, call_session: CallSession) -> Target | None:
    if call_session.attempt_id is None:
        return None
    attempt = db_session.get(Attempt, call_session.attempt_id)
    if attempt is None:
        return None
    return db_session.get(Target, attempt.target_id, with_for_update=True)


def on_wrong_number(db_session: Session, call_session: CallSession, _effect: object) -> None:
    """The person answering says we have the wrong number: never call it again in this campaign."""
    target = _target_of(db_session, call_session)
    if target is not None and target.status == TargetStatus.calling:
        target.status = TargetStatus.wrong_number
        log.info("target %s: wrong number %s", target.id, mask_phone(target.phone or ""))


def on_opt_out(db_session: Session, call_session: CallSession, _effect: object) -> None:
    """The resident asked for no more calls: every campaign honours the opt-out list."""
    add_opt_out(
        db_session=db_session,
        phone=call_session.phone,
        reason=RESIDENT_DURING_CALL,
        by_resident=True,
    )
    target = _target_of(db_session, call_session)
    if target is not None and target.status == TargetStatus.calling:
        target.status = TargetStatus.opted_out
