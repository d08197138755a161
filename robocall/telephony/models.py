"""Calls as the provider reported them, and every callback received about them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from robocall.db import Base, utcnow
from robocall.telephony.base import AnsweredBy, CallDirection, CallEventKind, CallStatus


def _words(enum_type: type) -> Enum:
    return Enum(enum_type, native_enum=False, length=16, validate_strings=True)


class Call(Base):
    """One phone call (outbound from a campaign, or inbound to the hotline)."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)  # the provider's CallSid
    direction: Mapped[CallDirection] = mapped_column(_words(CallDirection))
    to_number: Mapped[str] = mapped_column(String(32), index=True)  # E.164
    from_number: Mapped[str] = mapped_column(String(32))  # E.164 caller ID
    status: Mapped[CallStatus] = mapped_column(_words(CallStatus), index=True)
    answered_by: Mapped[AnsweredBy | None] = mapped_column(_words(AnsweredBy))
    duration_seconds: Mapped[int | None] = mapped_column(Integer)  # talk time, whole seconds
    error_code: Mapped[int | None] = mapped_column(Integer)  # the provider's error code
    # The highest SequenceNumber of the status callbacks applied so far.
    last_sequence_number: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[dt.datetime | None] = mapped_column()
    ended_at: Mapped[dt.datetime | None] = mapped_column()
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    events: Mapped[list[CallEvent]] = relationship(
        back_populates="call", order_by="CallEvent.id", cascade="all, delete-orphan"
    )

    @property
    def is_final(self) -> bool:
        """The call is over (answered and ended, or never answered)."""
        return self.status.is_final

    @property
    def answered_by_machine(self) -> bool:
        """It ended after an answering machine picked up."""
        return self.status == CallStatus.completed and self.answered_by == AnsweredBy.machine

    def __repr__(self) -> str:
        return f"<Call {self.sid} {self.status.value}>"


class CallEvent(Base):
    """One callback from the provider about a call, stored once however often it arrives."""

    __tablename__ = "call_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    # CallSid, kind, SequenceNumber and status: a second delivery of the same callback has
    # the same key and is ignored.
    dedup_key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[CallEventKind] = mapped_column(_words(CallEventKind))
    status: Mapped[CallStatus | None] = mapped_column(_words(CallStatus))
    answered_by: Mapped[AnsweredBy | None] = mapped_column(_words(AnsweredBy))
    sequence_number: Mapped[int | None] = mapped_column(Integer)
    occurred_at: Mapped[dt.datetime | None] = mapped_column()  # the provider's Timestamp
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Whether this callback moved the call forward (a late or repeated status does not).
    applied: Mapped[bool] = mapped_column(default=False)
    fields: Mapped[dict[str, str]] = mapped_column(JSON)  # the form as the provider sent it

    call: Mapped[Call] = relationship(back_populates="events")
