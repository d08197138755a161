"""The hotline reports export: symptom reports and declarations, urgent first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.contacts.models import Contact
from robocall.exports.tables import Table
from robocall.hotline.models import HotlineReport
from robocall.hotline.scoping import reports_within
from robocall.kit.sheets import Cell, Column
from robocall.units.models import Unit
from robocall.users.service import Scope

REPORT_COLUMNS = [
    Column("Mã"),
    Column("Thời gian"),
    Column("Khẩn cấp"),
    Column("Lý do khẩn cấp"),
    Column("Trạng thái"),
    Column("Kênh"),
    Column("Loại"),
    Column("Điện thoại"),
    Column("Họ và tên"),
    Column("Đơn vị"),
    Column("Triệu chứng"),
    Column("Nhiệt độ (°C)"),
    Column("SpO2 (%)"),
    Column("Câu trả lời", width=60),
    Column("Lời nhắn", width=40),
    Column("Ghi âm"),
    Column("Xác nhận bởi"),
    Column("Đóng bởi"),
]
STATUS_WORDS = {"new": "Mới", "acknowledged": "Đã xác nhận", "closed": "Đã đóng"}
CHANNEL_WORDS = {
    "outbound_call": "Cuộc gọi đi",
    "hotline": "Đường dây nóng",
    "sms": "Tin nhắn",
    "web": "Web",
}
KIND_WORDS = {"symptoms": "Triệu chứng", "declaration": "Khai báo y tế", "message": "Lời nhắn"}


def _report_rows(
    db_session: Session, scope: Scope, since: dt.datetime | None
) -> Iterator[Sequence[Cell]]:
    units = dict(db_session.execute(select(Unit.id, Unit.name)).all())
    query = reports_within(select(HotlineReport), scope)
    if since is not None:
        query = query.where(HotlineReport.created_at >= since)
    query = query.order_by(
        HotlineReport.urgent.desc(), HotlineReport.created_at.desc(), HotlineReport.id.desc()
    )
    reports = list(db_session.scalars(query))
    contact_ids = {r.contact_id for r in reports if r.contact_id}
    names: dict[int, str] = {}
    if contact_ids:
        names = dict(
            db_session.execute(
                select(Contact.id, Contact.name).where(Contact.id.in_(sorted(contact_ids)))
            ).all()
        )
    for report in reports:
        yield [
            report.id,
            report.created_at,
            report.urgent,
            ", ".join(report.urgent_reasons),
            STATUS_WORDS.get(report.status.value, report.status.value),
            CHANNEL_WORDS.get(report.channel.value, report.channel.value),
            KIND_WORDS.get(report.kind.value, report.kind.value),
            report.phone,
            names.get(report.contact_id) if report.contact_id else None,
            units.get(report.unit_id) if report.unit_id else None,
            ", ".join(report.symptoms),
            report.temperature,
            report.spo2,
            "; ".join(f"{k}: {v}" for k, v in report.answers.items()),
            report.message,
            " ".join(report.recording_urls),
            report.acknowledged_by,
            report.closed_by,
        ]


def report_tables(
    *, db_session: Session, scope: Scope, since: dt.datetime | None = None
) -> list[Table]:
    """The hotline reports export: one sheet, urgent first."""
    return [Table("Phản ánh", REPORT_COLUMNS, _report_rows(db_session, scope, since))]
