"""SMS messages, outbound and inbound, with the provider's delivery status."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from robocall.db import Base, utcnow
from robocall.telephony.base import MessageStatus


class MessageDirection(enum.StrEnum):
    outbound = "outbound"
    inbound = "inbound"


class SmsEncoding(enum.StrEnum):
    gsm7 = "gsm7"  # 160 characters a segment, 153 when split
    ucs2 = "ucs2"  # Vietnamese with diacritics: 70 a segment, 67 when split


def _words(enum_type: type) -> Enum:
    return Enum(enum_type, native_enum=False, length=16, validate_strings=True)


class Message(Base):
    """One SMS; its status only moves forward (a late `sent` never overwrites `delivered`)."""

    __tablename__ = "sms_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)  # the provider's MessageSid
    direction: Mapped[MessageDirection] = mapped_column(_words(MessageDirection))
    to_number: Mapped[str] = mapped_column(String(32), index=True)  # E.164
    from_number: Mapped[str] = mapped_column(String(32))  # E.164 or a sender name
    body: Mapped[str] = mapped_column(Text)  # NFC
    status: Mapped[MessageStatus] = mapped_column(_words(MessageStatus), index=True)
    segments: Mapped[int] = mapped_column(Integer, default=1)  # parts the network bills
    encoding: Mapped[SmsEncoding] = mapped_column(_words(SmsEncoding))
    error_code: Mapped[int | None] = mapped_column(Integer)  # the provider's error code
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column()
    delivered_at: Mapped[dt.datetime | None] = mapped_column()
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<Message {self.sid} {self.status.value}>"
