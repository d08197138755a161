"""Campaigns: whom to reach, how, and every round, target and attempt on the way."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from robocall.db import Base, utcnow


def _words(enum_type: type) -> Enum:
    return Enum(enum_type, native_enum=False, length=16, validate_strings=True)


class CampaignKind(enum.StrEnum):
    call = "call"
    sms = "sms"
    call_then_sms = "call_then_sms"  # an SMS to those no call reached


class Schedule(enum.StrEnum):
    one_off = "one_off"
    daily = "daily"  # one round a day for each person under monitoring


class CampaignStatus(enum.StrEnum):
    draft = "draft"
    scheduled = "scheduled"
    running = "running"
    paused = "paused"
    completed = "completed"
    cancelled = "cancelled"


class RoundStatus(enum.StrEnum):
    open = "open"
    finished = "finished"


class TargetStatus(enum.StrEnum):
    pending = "pending"  # waiting for its next attempt (next_at)
    calling = "calling"  # an attempt is claimed, being dialled or in progress
    reached = "reached"
    unreached = "unreached"  # every attempt the policy allows was made
    wrong_number = "wrong_number"
    opted_out = "opted_out"
    no_phone = "no_phone"
    cancelled = "cancelled"


class SmsState(enum.StrEnum):
    none = "none"  # no SMS due
    queued = "queued"
    sending = "sending"
    sent = "sent"
    skipped = "skipped"  # not SMS-capable or opted out
    failed = "failed"


class AttemptStatus(enum.StrEnum):
    queued = "queued"  # claimed by the scheduler, job enqueued
    dialling = "dialling"  # claimed by a worker, the provider is being asked
    placed = "placed"  # the provider accepted the call
    completed = "completed"
    busy = "busy"
    no_answer = "no_answer"
    failed = "failed"
    canceled = "canceled"
    machine = "machine"  # an answering machine picked up

    @property
    def is_final(self) -> bool:
        return self not in IN_FLIGHT


# Attempts not ended: waiting for a worker, or a call at the provider (which holds a slot of
# the campaign's concurrency cap).
AT_PROVIDER = (AttemptStatus.dialling, AttemptStatus.placed)
IN_FLIGHT = (AttemptStatus.queued, *AT_PROVIDER)


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[CampaignKind] = mapped_column(_words(CampaignKind))
    preset: Mapped[str | None] = mapped_column(String(64))
    flow: Mapped[str | None] = mapped_column(String(64))  # IVR flow name for calls
    sms_template: Mapped[str | None] = mapped_column(String(64))
    # {"units": [codes], "classification": "F1", "batches": [ids], "exposed_within_days": N,
    #  "contacts": [ids]}
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    caller_id: Mapped[str] = mapped_column(String(32))
    window_ranges: Mapped[str] = mapped_column(String(200), default="08:00-11:30,13:30-20:00")
    window_days: Mapped[str] = mapped_column(String(64), default="mon-sun")
    zone: Mapped[str] = mapped_column(String(64), default="Asia/Ho_Chi_Minh")
    calls_per_second: Mapped[float] = mapped_column(Float, default=1.0)
    max_concurrent: Mapped[int] = mapped_column(Integer, default=10)
    sms_per_second: Mapped[float] = mapped_column(Float, default=1.0)
    # outcome word -> seconds before the next attempt
    retry_delays: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)  # per round
    amd: Mapped[bool] = mapped_column(Boolean, default=True)
    schedule: Mapped[Schedule] = mapped_column(_words(Schedule), default=Schedule.one_off)
    monitoring_days: Mapped[int] = mapped_column(Integer, default=14)
    gsm7: Mapped[bool] = mapped_column(Boolean, default=False)  # strip diacritics in SMS
    start_at: Mapped[dt.datetime | None] = mapped_column()
    end_at: Mapped[dt.datetime | None] = mapped_column()
    status: Mapped[CampaignStatus] = mapped_column(
        _words(CampaignStatus), default=CampaignStatus.draft, index=True
    )
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column()
    finished_at: Mapped[dt.datetime | None] = mapped_column()
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<Campaign {self.id} {self.status.value}>"


class CampaignRound(Base):
    __tablename__ = "campaign_rounds"
    __table_args__ = (UniqueConstraint("campaign_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, … (the day for daily campaigns)
    day: Mapped[dt.date] = mapped_column(Date)  # the local date the round is for
    status: Mapped[RoundStatus] = mapped_column(_words(RoundStatus), default=RoundStatus.open)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column()


class Target(Base):
    """One phone to reach in one round: everyone of the campaign sharing it (a household)."""

    __tablename__ = "campaign_targets"
    __table_args__ = (
        UniqueConstraint("round_id", "phone"),
        Index("ix_campaign_targets_due", "campaign_id", "status", "next_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    round_id: Mapped[int] = mapped_column(ForeignKey("campaign_rounds.id", ondelete="CASCADE"))
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164; None: a no_phone target
    contact_ids: Mapped[list[int]] = mapped_column(JSON, default=list)  # first: who is asked for
    sms_capable: Mapped[bool] = mapped_column(Boolean, default=False)
    monitoring_day: Mapped[int | None] = mapped_column(Integer)  # day N of monitoring
    status: Mapped[TargetStatus] = mapped_column(_words(TargetStatus), default=TargetStatus.pending)
    next_at: Mapped[dt.datetime | None] = mapped_column()  # when the next attempt is due
    attempts_made: Mapped[int] = mapped_column(Integer, default=0)  # counted attempts
    sms_state: Mapped[SmsState] = mapped_column(_words(SmsState), default=SmsState.none)
    message_sid: Mapped[str | None] = mapped_column(String(64))
    # When a worker took the SMS to ask the provider; a crash after that is recovered by
    # asking the provider what it sent, never by sending again.
    sms_claimed_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Attempt(Base):
    """One call placed (or being placed) to a target; claimed before dialling."""

    __tablename__ = "campaign_attempts"
    __table_args__ = (UniqueConstraint("target_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    target_id: Mapped[int] = mapped_column(
        ForeignKey("campaign_targets.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, 3 within the round
    status: Mapped[AttemptStatus] = mapped_column(
        _words(AttemptStatus), default=AttemptStatus.queued, index=True
    )
    call_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    answered_by: Mapped[str | None] = mapped_column(String(16))
    error_code: Mapped[int | None] = mapped_column(Integer)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    dialled_at: Mapped[dt.datetime | None] = mapped_column()
    ended_at: Mapped[dt.datetime | None] = mapped_column()
