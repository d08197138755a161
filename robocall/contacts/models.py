"""People to reach: contacts from the commune lists, and numbers that asked not to be called."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Enum, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from robocall.db import Base, utcnow

MONITORING_DAYS = 14  # days a contact is followed after the last exposure
F0_ISOLATION_DAYS = 7  # days an F0 is followed through home isolation


class Classification(enum.StrEnum):
    """Epidemiological classification: F0 is a case, F1 a close contact of F0, and so on."""

    F0 = "F0"
    F1 = "F1"
    F2 = "F2"
    F3 = "F3"
    unknown = "unknown"


class Sex(enum.StrEnum):
    male = "male"
    female = "female"


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (
        # Duplicate detection looks contacts up by unit and matched name.
        Index("ix_contacts_unit_id_match_key", "unit_id", "match_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(200))  # NFC, trimmed, as written
    # The name folded for matching: case-folded, no tone-mark placement differences.
    match_key: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)  # E.164
    alt_phones: Mapped[list[str]] = mapped_column(JSON, default=list)  # E.164 each
    # False for landlines: they can be called but receive no SMS.
    sms_capable: Mapped[bool] = mapped_column(Boolean, default=False)
    classification: Mapped[Classification] = mapped_column(
        Enum(Classification, native_enum=False, length=16, validate_strings=True),
        default=Classification.unknown,
    )
    exposure_date: Mapped[dt.date | None] = mapped_column(Date)  # last contact with a case
    birth_year: Mapped[int | None] = mapped_column(Integer)
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    sex: Mapped[Sex | None] = mapped_column(
        Enum(Sex, native_enum=False, length=16, validate_strings=True)
    )
    address_detail: Mapped[str | None] = mapped_column(String(300))  # house number, street
    hamlet: Mapped[str | None] = mapped_column(String(200))  # thôn, xóm, ấp, tổ, khu phố
    commune: Mapped[str | None] = mapped_column(String(200))  # xã, phường, thị trấn as written
    district: Mapped[str | None] = mapped_column(String(200))
    source_case: Mapped[str | None] = mapped_column(String(300))  # the F0 they were exposed to
    return_date: Mapped[dt.date | None] = mapped_column(Date)  # returnee lists
    returned_from: Mapped[str | None] = mapped_column(String(300))
    notes: Mapped[str | None] = mapped_column(Text)
    # Columns of the list that match no field, by their header text.
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source_file: Mapped[str | None] = mapped_column(String(300))
    source_sheet: Mapped[str | None] = mapped_column(String(200))
    source_row: Mapped[int | None] = mapped_column(Integer)  # 1-based, as Excel shows it
    import_batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("import_batches.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<Contact {self.id} {self.classification.value}>"


class OptOut(Base):
    """A number that must not be called or sent SMS.

    Asked by the resident (key 9 in a call, an SMS keyword): everywhere, and lifted only by
    the resident (an SMS keyword) or an administrator. Added by staff: within the adding
    user's unit and the units below it (no unit: an administrator's, everywhere).
    """

    __tablename__ = "opt_outs"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))  # E.164
    # Where it applies: this unit and the units below it; None: everywhere.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    by_resident: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str | None] = mapped_column(String(100))  # the staff user's name
    reason: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# One opt-out per number, unit (none: everywhere) and origin; NULL units compare equal here.
Index(
    "uq_opt_outs_phone_unit_origin",
    OptOut.phone,
    func.coalesce(OptOut.unit_id, 0),
    OptOut.by_resident,
    unique=True,
)
