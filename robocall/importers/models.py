"""One import of one spreadsheet: who, when, what file, what it did; and a file uploaded on
the web page, from its preview until the worker has imported it."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from robocall.db import Base, utcnow


class ImportBatch(Base):
    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_name: Mapped[str] = mapped_column(String(300))
    file_hash: Mapped[str] = mapped_column(String(64), index=True)  # SHA-256 of the content, hex
    file_size: Mapped[int] = mapped_column(Integer)  # bytes
    imported_by: Mapped[str] = mapped_column(String(200))  # "cli:<login>" or "api"
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    default_classification: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    rows: Mapped[int] = mapped_column(Integer, default=0)  # data rows read
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    without_phone: Mapped[int] = mapped_column(Integer, default=0)
    legacy_converted: Mapped[int] = mapped_column(Integer, default=0)
    sheets: Mapped[list[str]] = mapped_column(JSON, default=list)
    skipped_sheets: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    warnings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Status of every row after a recognised header, as runs of rows with one outcome:
    # [sheet, first row, last row, status, message]; with `original` it rebuilds the report.
    row_outcomes: Mapped[list[list[Any]]] = deferred(mapped_column(JSON, default=list))
    original: Mapped[bytes] = deferred(mapped_column(LargeBinary))  # the file as received

    def __repr__(self) -> str:
        return f"<ImportBatch {self.id} {self.file_name!r}>"


class UploadState(enum.StrEnum):
    previewed = "previewed"  # shown to the user, waiting for the confirmation (or expiry)
    queued = "queued"  # confirmed, waiting for a worker (a lost job: the sweeper re-queues)
    running = "running"  # taken by a worker
    done = "done"
    refused = "refused"  # the file was refused, or the import failed every try


class Upload(Base):
    """A file uploaded on the web page: held between its preview and the confirmation, then
    imported by a worker. The row, not Redis, is the truth: a job lost with Redis is queued
    again by the sweeper (robocall.importers.scheduled)."""

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)  # secrets.token_urlsafe, in URLs
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    file_name: Mapped[str] = mapped_column(String(300))
    unit_code: Mapped[str | None] = mapped_column(String(32))
    classification: Mapped[str | None] = mapped_column(String(16))  # the default, e.g. "F1"
    # The file as received; emptied once it is imported or refused (the batch keeps a copy).
    content: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    state: Mapped[UploadState] = mapped_column(
        Enum(UploadState, native_enum=False, length=16, validate_strings=True),
        default=UploadState.previewed,
        index=True,
    )
    tries: Mapped[int] = mapped_column(Integer, default=0)  # times a worker took it
    done: Mapped[int] = mapped_column(Integer, default=0)  # rows read so far
    total: Mapped[int] = mapped_column(Integer, default=0)  # rows in the file (0: not known yet)
    # The import's batch (or the earlier batch of the same file). Not a foreign key: the row
    # only reports it, and batches are deleted by retention without looking here.
    batch_id: Mapped[int | None] = mapped_column(Integer)
    created: Mapped[int | None] = mapped_column(Integer)  # contacts added
    updated: Mapped[int | None] = mapped_column(Integer)  # contacts updated
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)  # the preview
    queued_at: Mapped[dt.datetime | None]  # confirmed, or queued again by the sweeper
    taken_at: Mapped[dt.datetime | None]  # a worker took it, or last noted its progress
    # The preview's deadline for its confirmation; once finished, when the row is deleted.
    expires_at: Mapped[dt.datetime]

    def __repr__(self) -> str:
        return f"<Upload {self.id} {self.file_name!r} {self.state.value}>"
