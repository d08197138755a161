"""Symptom reports and health declarations, from calls, the hotline, SMS and the web."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Boolean, Enum, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from robocall.db import Base, utcnow


class ReportChannel(enum.StrEnum):
    outbound_call = "outbound_call"
    hotline = "hotline"
    sms = "sms"
    web = "web"


class ReportKind(enum.StrEnum):
    symptoms = "symptoms"
    declaration = "declaration"
    message = "message"


class ReportStatus(enum.StrEnum):
    new = "new"
    acknowledged = "acknowledged"
    closed = "closed"


class NotificationStatus(enum.StrEnum):
    queued = "queued"  # waiting for a worker (its job may have been lost: the sweeper re-queues)
    sending = "sending"  # taken by a worker, the provider being asked
    sent = "sent"
    failed = "failed"  # gave up after every retry; shown to staff


def _enum(cls: type[enum.StrEnum]) -> Enum:
    return Enum(cls, native_enum=False, length=16, validate_strings=True)


class HotlineReport(Base):
    __tablename__ = "hotline_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[ReportChannel] = mapped_column(_enum(ReportChannel))
    kind: Mapped[ReportKind] = mapped_column(_enum(ReportKind))
    phone: Mapped[str] = mapped_column(String(20), index=True)  # the resident's, E.164
    contact_id: Mapped[int | None] = mapped_column(Integer, index=True)  # when matched
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("units.id", ondelete="SET NULL"), index=True
    )
    # The call this report came from (one report per call); empty for SMS and web.
    call_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("call_sessions.id", ondelete="SET NULL"), unique=True
    )
    symptoms: Mapped[list[str]] = mapped_column(JSON, default=list)  # e.g. ["fever", "cough"]
    temperature: Mapped[float | None] = mapped_column(Float)  # °C
    spo2: Mapped[int | None] = mapped_column(Integer)  # blood oxygen saturation, %
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # question → value
    recording_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    message: Mapped[str | None] = mapped_column(Text)  # free text (SMS, web, speech)
    complete: Mapped[bool] = mapped_column(Boolean, default=True)  # False: caller hung up midway
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    urgent_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)  # e.g. ["low_spo2"]
    status: Mapped[ReportStatus] = mapped_column(_enum(ReportStatus), default=ReportStatus.new)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    acknowledged_at: Mapped[dt.datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(100))
    closed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    notifications: Mapped[list[ReportNotification]] = relationship(
        back_populates="report", order_by="ReportNotification.id"
    )


class ReportNotification(Base):
    """One SMS to one duty number about one urgent report; sent by a retried job."""

    __tablename__ = "report_notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("hotline_reports.id", ondelete="CASCADE"), index=True
    )
    to: Mapped[str] = mapped_column(String(20))  # duty phone, E.164
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[NotificationStatus] = mapped_column(
        _enum(NotificationStatus), default=NotificationStatus.queued
    )
    tries: Mapped[int] = mapped_column(Integer, default=0)
    taken_at: Mapped[dt.datetime | None]  # when a worker last took it to send
    next_try_at: Mapped[dt.datetime | None]  # after a failed try: when it is due again
    provider_id: Mapped[str | None] = mapped_column(String(64))  # the provider's message id
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]

    report: Mapped[HotlineReport] = relationship(back_populates="notifications")


class ReportContact(Base):
    """A contact a report concerns: every contact the caller's number belongs to, so each
    of their units sees the report (a number several units' lists share)."""

    __tablename__ = "hotline_report_contacts"

    report_id: Mapped[int] = mapped_column(
        ForeignKey("hotline_reports.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("units.id", ondelete="SET NULL"), index=True
    )
