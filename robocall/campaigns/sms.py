"""Campaign SMS: the message for a target, sending it, and the cost estimate before a start."""

from __future__ import annotations

import datetime as dt
import enum
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from robocall.campaigns.audience import audience_contacts, households
from robocall.campaigns.limits import RateLimiter, wait_for_rate_slot
from robocall.campaigns.models import Campaign, CampaignKind, SmsState, Target
from robocall.config import get_settings
from robocall.contacts.models import Contact
from robocall.contacts.service import opted_out_for_contacts
from robocall.db import session_scope, utcnow
from robocall.kit.masking import mask_phone
from robocall.sms.encoding import estimate_cost
from robocall.sms.templates import load_template, render_sms
from robocall.telephony import service as telephony
from robocall.telephony.base import ProviderRejected, ProviderUnavailable, ProviderUncertain
from robocall.workers.connection import get_redis

log = logging.getLogger(__name__)

BLUEZONE_URL = "https://bluezone.gov.vn"


class SmsOutcome(enum.StrEnum):
    """What became of one campaign SMS a worker was asked to send (or to look into)."""

    sent = "sent"
    skipped = "skipped"  # nothing to send (no SMS-capable number, or opted out)
    failed = "failed"  # the provider refused it for good
    already_handled = "already_handled"  # another job or the sweeper settled it first
    redis_unavailable = "redis_unavailable"  # the rate limit could not be read: sent later
    provider_unavailable = "provider_unavailable"  # the provider failed: sent later
    not_sent = "not_sent"  # recovering: the provider never sent it; queued again


def _date(value: dt.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def sms_values(campaign: Campaign, contacts: list[Contact], day: int | None) -> dict[str, Any]:
    """Template values for a household: the first contact's fields, every name."""
    settings = get_settings()
    first = contacts[0]
    end = (
        first.exposure_date + dt.timedelta(days=campaign.monitoring_days)
        if first.exposure_date
        else None
    )
    names = [c.name for c in contacts]
    return {
        "name": first.name,
        "household_names": ", ".join(names) if len(names) > 1 else "",
        "classification": first.classification.value,
        "day": day,
        "monitoring_days": campaign.monitoring_days,
        "end_date": _date(end),
        "exposure_date": _date(first.exposure_date),
        "commune": first.commune or "",
        "centre": settings.health_centre_name,
        "hotline": settings.hotline_number,
        "bluezone_url": BLUEZONE_URL,
    }


def _contacts(db_session: Session, ids: list[int]) -> list[Contact]:
    by_id = {c.id: c for c in db_session.scalars(select(Contact).where(Contact.id.in_(ids)))}
    return [by_id[i] for i in ids if i in by_id]


def send_target_sms(*, target_id: int) -> SmsOutcome:
    """Send the campaign's SMS to one target (sms_state sending → sent, skipped or failed)."""
    with session_scope() as db_session:
        target = db_session.get(Target, target_id)
        if target is None or target.sms_state != SmsState.sending or target.message_sid:
            return SmsOutcome.already_handled
        campaign = db_session.get(Campaign, target.campaign_id)
        assert campaign is not None
        if (
            not target.phone
            or not target.sms_capable
            or opted_out_for_contacts(
                db_session=db_session, phone=target.phone, contact_ids=target.contact_ids
            )
        ):
            target.sms_state = SmsState.skipped
            return SmsOutcome.skipped
        template = load_template(campaign.sms_template or "")
        contacts = _contacts(db_session, list(target.contact_ids))
        body = render_sms(
            template,
            sms_values(campaign, contacts, target.monitoring_day),
            gsm7=campaign.gsm7 or None,
        ).body
        phone, per_second = target.phone, campaign.sms_per_second
        # Claimed by this worker before the provider is asked: of two jobs for one target
        # (a sweeper's and the first, still running), one sends.
        claimed = db_session.execute(
            update(Target)
            .where(
                Target.id == target_id,
                Target.sms_state == SmsState.sending,
                Target.message_sid.is_(None),
                Target.sms_claimed_at.is_(None),
            )
            .values(sms_claimed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            return SmsOutcome.already_handled
    settings = get_settings()
    limiter = RateLimiter(
        get_redis(),
        account=settings.telephony_account,
        caller_id="sms:" + (settings.sms_sender or settings.caller_id),
        per_second=per_second,
    )
    while True:
        ask_by = wait_for_rate_slot(limiter)
        if ask_by is None:
            _set_state(target_id, SmsState.queued)  # the scheduler claims it again
            return SmsOutcome.redis_unavailable
        try:
            return _send(target_id, campaign.kind, phone, body, ask_by)
        except telephony.TooLate:
            continue  # nothing sent, nothing written: the message takes the next slot


def _send(target_id: int, kind: CampaignKind, phone: str, body: str, ask_by: float) -> SmsOutcome:
    """Send the target's SMS now (by `ask_by`) and record it; what happened, in a word."""
    with session_scope() as db_session:
        try:
            message = telephony.send_sms(
                db_session=db_session,
                to=phone,
                body=body,
                ask_by=ask_by,
                key=f"target-{target_id}",
            )
        except ProviderUnavailable:
            db_session.rollback()
            _set_state(target_id, SmsState.queued)  # the scheduler claims it again
            return SmsOutcome.provider_unavailable
        except (ProviderRejected, ProviderUncertain) as exc:
            # Uncertain: the message may have gone; never risk sending it twice.
            db_session.rollback()
            log.warning("SMS to %s not sent: %s", mask_phone(phone), exc)
            _set_state(target_id, SmsState.failed)
            return SmsOutcome.failed
        target = db_session.get(Target, target_id, with_for_update=True)
        assert target is not None
        target.message_sid = message.sid
        target.sms_state = SmsState.sent
        if kind == CampaignKind.sms:
            from robocall.campaigns.models import TargetStatus

            target.status = TargetStatus.reached
    return SmsOutcome.sent


def _set_state(target_id: int, state: SmsState) -> None:
    with session_scope() as db_session:
        target = db_session.get(Target, target_id, with_for_update=True)
        if target is not None:
            target.sms_state = state
            if state == SmsState.queued:
                target.sms_claimed_at = None  # nothing was sent: the scheduler claims it again
            if state == SmsState.failed and target.status.value == "pending":
                from robocall.campaigns.models import TargetStatus

                target.status = TargetStatus.unreached


def recover_target_sms(*, target_id: int) -> SmsOutcome:
    """A worker claimed this target's SMS and died: ask the provider whether it went (an SMS
    to the number since the claim) and record it; only if not, give it back to be sent."""
    with session_scope() as db_session:
        target = db_session.get(Target, target_id)
        if (
            target is None
            or target.sms_state != SmsState.sending
            or target.message_sid is not None
            or target.sms_claimed_at is None
            or target.phone is None
        ):
            return SmsOutcome.already_handled
        phone, claimed_at = target.phone, target.sms_claimed_at
    sent_id = telephony.sent_sms_since(to=phone, body=None, since=claimed_at)
    with session_scope() as db_session:
        target = db_session.get(Target, target_id, with_for_update=True)
        if target is None or target.sms_claimed_at != claimed_at:
            return SmsOutcome.already_handled
        if sent_id is None:
            target.sms_state = SmsState.queued
            target.sms_claimed_at = None
            return SmsOutcome.not_sent
        target.message_sid = sent_id
        target.sms_state = SmsState.sent
    log.info("campaign SMS to %s had been sent before the worker died", mask_phone(phone))
    return SmsOutcome.sent


@dataclass(frozen=True)
class SmsEstimate:
    messages: int
    segments: int
    encoding: dict[str, int]  # encoding word -> messages
    price_per_segment: float
    cost: float
    sample: str  # the first message as it would be sent

    def to_json(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "segments": self.segments,
            "encoding": self.encoding,
            "price_per_segment": self.price_per_segment,
            "estimated_cost": self.cost,
            "sample": self.sample,
        }


def estimate_campaign_sms(
    *, db_session: Session, campaign: Campaign, price_per_segment: float | None = None
) -> SmsEstimate | None:
    """Messages, segments, encodings and cost if every SMS-capable household got the SMS."""
    if not campaign.sms_template:
        return None
    price = get_settings().sms_price_per_segment if price_per_segment is None else price_per_segment
    template = load_template(campaign.sms_template)
    today = utcnow().astimezone(get_settings().zone).date()
    messages = segments = 0
    encodings: dict[str, int] = {}
    sample = ""
    for household in households(
        audience_contacts(db_session=db_session, campaign=campaign, day=today)
    ):
        if household.phone is None or not household.sms_capable:
            continue
        first = household.contacts[0]
        day = (today - first.exposure_date).days if first.exposure_date else None
        rendered = render_sms(
            template, sms_values(campaign, household.contacts, day), gsm7=campaign.gsm7 or None
        )
        messages += 1
        segments += rendered.info.segments
        encodings[rendered.info.encoding.value] = encodings.get(rendered.info.encoding.value, 0) + 1
        sample = sample or rendered.body
    return SmsEstimate(messages, segments, encodings, price, estimate_cost(segments, price), sample)
