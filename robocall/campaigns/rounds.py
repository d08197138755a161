"""Rounds: the one round of a one-off campaign, or one a day while people are monitored."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from robocall.campaigns.audience import audience_exists, audience_phones
from robocall.campaigns.models import (
    Campaign,
    CampaignKind,
    CampaignRound,
    CampaignStatus,
    RoundStatus,
    Schedule,
    SmsState,
    Target,
    TargetStatus,
)
from robocall.campaigns.timing import window_of
from robocall.contacts.service import OptOutCheck
from robocall.db import BULK_CHUNK, bulk_insert

TARGETS = cast(Table, Target.__table__)
ACTIVE_TARGET = (TargetStatus.pending, TargetStatus.calling)
ACTIVE_SMS = (SmsState.queued, SmsState.sending)


def local_day(campaign: Campaign, now: dt.datetime) -> dt.date:
    return now.astimezone(window_of(campaign).zone).date()


def open_due_round(
    *, db_session: Session, campaign: Campaign, now: dt.datetime
) -> CampaignRound | None:
    """Open the round due now (none if it exists or nobody is due): its targets, one per phone."""
    day = local_day(campaign, now)
    rounds = list(
        db_session.scalars(
            select(CampaignRound)
            .where(CampaignRound.campaign_id == campaign.id)
            .order_by(CampaignRound.number)
        )
    )
    if campaign.schedule == Schedule.one_off and rounds:
        return None
    if campaign.schedule == Schedule.daily and any(r.day == day for r in rounds):
        return None
    reached = audience_phones(db_session=db_session, campaign=campaign, day=day)
    if campaign.schedule == Schedule.daily and not reached and rounds:
        return None
    number = len(rounds) + 1
    round_ = CampaignRound(campaign_id=campaign.id, number=number, day=day)
    db_session.add(round_)
    db_session.flush()
    opted_out = OptOutCheck.load(db_session)
    wrong = set(
        db_session.scalars(
            select(Target.phone).where(
                Target.campaign_id == campaign.id, Target.status == TargetStatus.wrong_number
            )
        )
    )
    first_call = window_of(campaign).next_open(now)
    sms_only = campaign.kind == CampaignKind.sms
    rows: list[dict[str, Any]] = []
    for phone in reached:
        status = TargetStatus.pending
        sms_state = SmsState.queued if sms_only else SmsState.none
        if phone.phone is None:
            status, sms_state = TargetStatus.no_phone, SmsState.none
        elif opted_out.covers(db_session, phone.phone, phone.unit_ids):
            status, sms_state = TargetStatus.opted_out, SmsState.none
        elif phone.phone in wrong:
            status, sms_state = TargetStatus.wrong_number, SmsState.none
        elif sms_only and not phone.sms_capable:
            status, sms_state = TargetStatus.unreached, SmsState.skipped
        rows.append(
            {
                "campaign_id": campaign.id,
                "round_id": round_.id,
                "phone": phone.phone,
                "contact_ids": phone.contact_ids,
                "sms_capable": phone.sms_capable,
                "monitoring_day": (day - phone.exposure_date).days
                if phone.exposure_date is not None
                else None,
                "status": status,
                "sms_state": sms_state,
                "next_at": now if sms_only else first_call,
                "attempts_made": 0,
                "updated_at": now,
            }
        )
        if len(rows) == BULK_CHUNK:  # written a chunk at a time: memory stays flat
            bulk_insert(db_session=db_session, table=TARGETS, rows=rows)
            rows = []
    bulk_insert(db_session=db_session, table=TARGETS, rows=rows)
    return round_


def finish_if_done(*, db_session: Session, campaign: Campaign, now: dt.datetime) -> bool:
    """Close open rounds with nothing left to do; complete a campaign with nothing more due."""
    open_rounds = list(
        db_session.scalars(
            select(CampaignRound).where(
                CampaignRound.campaign_id == campaign.id, CampaignRound.status == RoundStatus.open
            )
        )
    )
    for round_ in open_rounds:
        busy = db_session.scalar(
            select(func.count(Target.id)).where(
                Target.round_id == round_.id,
                (Target.status.in_(ACTIVE_TARGET)) | (Target.sms_state.in_(ACTIVE_SMS)),
            )
        )
        if not busy:
            round_.status = RoundStatus.finished
            round_.finished_at = now
    db_session.flush()
    if any(r.status == RoundStatus.open for r in open_rounds):
        return False
    done = campaign.schedule == Schedule.one_off
    if campaign.schedule == Schedule.daily:
        tomorrow = local_day(campaign, now) + dt.timedelta(days=1)
        done = not audience_exists(db_session=db_session, campaign=campaign, day=tomorrow)
    if campaign.end_at is not None and now >= campaign.end_at:
        done = True
    if done and campaign.status == CampaignStatus.running:
        campaign.status = CampaignStatus.completed
        campaign.finished_at = now
    return done
