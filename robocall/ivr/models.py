"""Call sessions (the state of one call through a flow) and the answers given in them."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from robocall.db import Base, utcnow
from robocall.telephony.base import CallDirection


class CallSessionStatus(enum.StrEnum):
    active = "active"  # the caller is somewhere in the flow
    finished = "finished"  # the flow ended (hang-up, opt-out, wrong number, or the caller left)


class CallSession(Base):
    __tablename__ = "call_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)  # the provider's call id
    direction: Mapped[CallDirection] = mapped_column(
        Enum(CallDirection, native_enum=False, length=16, validate_strings=True)
    )
    flow_name: Mapped[str] = mapped_column(String(64))
    flow_version: Mapped[str] = mapped_column(String(32))  # digest of the flow file at call start
    phone: Mapped[str] = mapped_column(String(20), index=True)  # the resident's, E.164
    # The contact reached or calling, when known (a foreign key once contacts exist).
    contact_id: Mapped[int | None] = mapped_column(Integer, index=True)
    attempt_id: Mapped[int | None] = mapped_column(Integer, index=True)  # the campaign attempt
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    # The contact fields the flow's texts use (name, household_names, monitoring_day …).
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the engine's state
    step: Mapped[int] = mapped_column(Integer, default=0)  # answered steps; stale posts replay
    last_twiml: Mapped[str] = mapped_column(Text, default="")  # replayed to duplicate posts
    status: Mapped[CallSessionStatus] = mapped_column(
        Enum(CallSessionStatus, native_enum=False, length=16, validate_strings=True),
        default=CallSessionStatus.active,
    )
    # completed | wrong_number | opted_out | hung_up | technical_problem
    outcome: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    ended_at: Mapped[dt.datetime | None]

    answers: Mapped[list[CallAnswer]] = relationship(
        back_populates="call_session", order_by="CallAnswer.id"
    )


class CallAnswer(Base):
    __tablename__ = "call_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_session_id: Mapped[int] = mapped_column(
        ForeignKey("call_sessions.id", ondelete="CASCADE"), index=True
    )
    node: Mapped[str] = mapped_column(String(64))  # the question's node in the flow
    question: Mapped[str] = mapped_column(Text)  # the question as it was spoken
    key: Mapped[str | None] = mapped_column(String(32))  # keys pressed, if any
    speech: Mapped[str | None] = mapped_column(Text)  # what the recogniser heard, if spoken
    value: Mapped[str] = mapped_column(Text)  # the meaning; empty for a wrong key
    answered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    call_session: Mapped[CallSession] = relationship(back_populates="answers")
