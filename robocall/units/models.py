"""Jurisdiction tree."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from robocall.db import Base, utcnow


class UnitLevel(enum.StrEnum):
    province = "province"
    district = "district"
    commune = "commune"


# Which levels a unit of each level may sit under. Since the 2025 reform communes may
# hang directly under a province.
ALLOWED_PARENTS: dict[UnitLevel, tuple[UnitLevel, ...]] = {
    UnitLevel.province: (),
    UnitLevel.district: (UnitLevel.province,),
    UnitLevel.commune: (UnitLevel.district, UnitLevel.province),
}


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # the official code, e.g. "26734"
    name: Mapped[str] = mapped_column(String(200))  # NFC, as written officially
    level: Mapped[UnitLevel] = mapped_column(
        Enum(UnitLevel, native_enum=False, length=16, validate_strings=True)
    )
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("units.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    parent: Mapped[Unit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Unit]] = relationship(back_populates="parent")

    def __repr__(self) -> str:
        return f"<Unit {self.code} {self.level.value}>"
