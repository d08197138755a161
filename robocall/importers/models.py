"""One import of one spreadsheet: who, when, what file, what it did."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String
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
