"""An export prepared by the worker for the exports page, from the request until its file is
written. The row, not Redis, is the truth: a job lost with Redis is queued again by the sweeper
(robocall.exports.scheduled)."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Date, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from robocall.db import Base, utcnow


class ExportState(enum.StrEnum):
    queued = "queued"  # waiting for a worker (its job may be lost: the sweeper re-queues)
    running = "running"  # taken by a worker
    done = "done"  # the file is written under <var_dir>/exports/
    failed = "failed"


class PreparedExport(Base):
    __tablename__ = "prepared_exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)  # secrets.token_urlsafe, in URLs
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(32))  # the export's kind, e.g. "contacts"
    fmt: Mapped[str] = mapped_column(String(8))  # "xlsx" or "csv"
    unit_code: Mapped[str | None] = mapped_column(String(32))
    day: Mapped[dt.date | None] = mapped_column(Date)  # the situation report's day
    # Checked visible when asked; not a foreign key: the export fails if it is gone by then.
    campaign_id: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[ExportState] = mapped_column(
        Enum(ExportState, native_enum=False, length=16, validate_strings=True),
        default=ExportState.queued,
        index=True,
    )
    tries: Mapped[int] = mapped_column(Integer, default=0)  # times a worker took it
    rows: Mapped[int] = mapped_column(Integer, default=0)  # rows written so far
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    queued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)  # asked, or queued again
    taken_at: Mapped[dt.datetime | None]  # a worker took it, or last noted its progress

    def __repr__(self) -> str:
        return f"<PreparedExport {self.id} {self.name}.{self.fmt} {self.state.value}>"
