"""The daily situation report per unit, as the provincial health department asks for it.

Monitoring periods (days, counted from the exposure date, that day being day 1): a contact is
followed for 14 days; an F0 (a case) is followed through home isolation of 7 days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from robocall.contacts.models import F0_ISOLATION_DAYS, MONITORING_DAYS, Classification, Contact
from robocall.exports.tables import Table
from robocall.hotline.models import HotlineReport, ReportKind
from robocall.hotline.scoping import reports_within, units_of_reports
from robocall.importers.models import ImportBatch
from robocall.kit.sheets import Cell, Column
from robocall.telephony.base import AnsweredBy, CallStatus
from robocall.telephony.models import Call
from robocall.units.models import Unit, UnitLevel
from robocall.users.scoping import within
from robocall.users.service import Scope

SITUATION_COLUMNS = [
    Column("Mã đơn vị"),
    Column("Xã/Phường"),
    Column("Tổng số trong danh sách"),
    Column("Đang theo dõi"),
    Column("Thêm mới hôm nay"),
    Column("Kết thúc theo dõi hôm nay"),
    Column("Kết thúc theo dõi ngày mai"),
    Column("Liên lạc được hôm nay"),
    Column("Có triệu chứng"),
    Column("Khẩn cấp"),
    Column("Đã gửi danh sách hôm nay"),
]


@dataclass
class UnitSituation:
    """One unit's figures for the day."""

    unit_id: int | None
    code: str
    name: str
    is_commune: bool
    contacts: int = 0  # everyone on the lists
    monitored: int = 0
    added_today: int = 0
    ending_today: int = 0
    ending_tomorrow: int = 0
    reached_today: int = 0  # contacts a call answered by a person reached today
    with_symptoms: int = 0  # symptom reports received today
    urgent: int = 0  # urgent reports received today
    sent_list_today: bool = False

    def cells(self) -> list[Cell]:
        return [
            self.code,
            self.name,
            self.contacts,
            self.monitored,
            self.added_today,
            self.ending_today,
            self.ending_tomorrow,
            self.reached_today,
            self.with_symptoms,
            self.urgent,
            self.sent_list_today if self.is_commune else None,
        ]


@dataclass
class Situation:
    """The situation report of one day over the units a user sees."""

    day: dt.date
    rows: list[UnitSituation] = field(default_factory=list)

    @property
    def total(self) -> UnitSituation:
        total = UnitSituation(None, "", "Tổng cộng", False)
        for row in self.rows:
            for name in (
                "contacts",
                "monitored",
                "added_today",
                "ending_today",
                "ending_tomorrow",
                "reached_today",
                "with_symptoms",
                "urgent",
            ):
                setattr(total, name, getattr(total, name) + getattr(row, name))
        return total

    @property
    def silent_communes(self) -> list[UnitSituation]:
        """Communes that sent no list today."""
        return [r for r in self.rows if r.is_commune and not r.sent_list_today]


def day_bounds(day: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants where a local day starts and ends."""
    start = dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
    return start, end


def _period(classification: Classification) -> int:
    return F0_ISOLATION_DAYS if classification is Classification.F0 else MONITORING_DAYS


def build_situation(
    *, db_session: Session, scope: Scope, day: dt.date, zone: ZoneInfo
) -> Situation:
    """Compute the situation report of `day` (a local date) over the units in `scope`."""
    start, end = day_bounds(day, zone)
    units = list(
        db_session.scalars(within(select(Unit), Unit.id, scope).order_by(Unit.level, Unit.name))
    )
    rows: dict[int | None, UnitSituation] = {
        u.id: UnitSituation(u.id, u.code, u.name, u.level is UnitLevel.commune)
        for u in units
        if u.level is UnitLevel.commune
    }

    def row(unit_id: int | None) -> UnitSituation:
        if unit_id not in rows:
            unit = db_session.get(Unit, unit_id) if unit_id is not None else None
            rows[unit_id] = UnitSituation(
                unit_id,
                unit.code if unit else "",
                unit.name if unit else "(chưa rõ đơn vị)",
                bool(unit and unit.level is UnitLevel.commune),
            )
        return rows[unit_id]

    counted = within(
        select(Contact.unit_id, func.count()).group_by(Contact.unit_id), Contact.unit_id, scope
    )
    for unit_id, count in db_session.execute(counted):
        row(unit_id).contacts = count
    added = counted.where(Contact.created_at >= start, Contact.created_at < end)
    for unit_id, count in db_session.execute(added):
        row(unit_id).added_today = count

    earliest = day - dt.timedelta(days=MONITORING_DAYS - 1)
    by_exposure = within(
        select(Contact.unit_id, Contact.classification, Contact.exposure_date, func.count())
        .where(Contact.exposure_date >= earliest, Contact.exposure_date <= day)
        .group_by(Contact.unit_id, Contact.classification, Contact.exposure_date),
        Contact.unit_id,
        scope,
    )
    for unit_id, classification, exposure, count in db_session.execute(by_exposure):
        if exposure is None:
            continue
        day_number = (day - exposure).days + 1  # the exposure date is day 1
        period = _period(classification)
        if day_number > period:
            continue
        target = row(unit_id)
        target.monitored += count
        if day_number == period:
            target.ending_today += count
        elif day_number == period - 1:
            target.ending_tomorrow += count

    reached = within(
        select(Contact.unit_id, func.count(distinct(Contact.id)))
        .join(Call, Call.to_number == Contact.phone)
        .where(
            Call.status == CallStatus.completed,
            Call.answered_by == AnsweredBy.human,
            Call.created_at >= start,
            Call.created_at < end,
        )
        .group_by(Contact.unit_id),
        Contact.unit_id,
        scope,
    )
    for unit_id, count in db_session.execute(reached):
        row(unit_id).reached_today = count

    today_reports = reports_within(
        select(HotlineReport).where(
            HotlineReport.created_at >= start, HotlineReport.created_at < end
        ),
        scope,
    )
    reports = list(db_session.scalars(today_reports))
    report_units = units_of_reports(db_session=db_session, reports=reports)
    for report in reports:
        # A number several units' lists share: counted in each of those units (in scope).
        for unit_id in report_units[report.id]:
            if unit_id is not None and not scope.allows(unit_id):
                continue
            target = row(unit_id)
            if report.kind is ReportKind.symptoms and report.symptoms:
                target.with_symptoms += 1
            if report.urgent:
                target.urgent += 1

    batches_today = (ImportBatch.created_at >= start, ImportBatch.created_at < end)
    sent = set(db_session.scalars(select(ImportBatch.unit_id).where(*batches_today)))
    sent |= set(
        db_session.scalars(
            select(Contact.unit_id)
            .distinct()
            .join(ImportBatch, ImportBatch.id == Contact.import_batch_id)
            .where(*batches_today)
        )
    )
    for unit_id, target in rows.items():
        target.sent_list_today = unit_id in sent
    ordered = sorted(rows.values(), key=lambda r: (not r.is_commune, r.name, r.code))
    return Situation(day=day, rows=ordered)


def _situation_rows(situation: Situation) -> Iterator[Sequence[Cell]]:
    for unit in situation.rows:
        yield unit.cells()
    yield situation.total.cells()


def _silent_rows(situation: Situation) -> Iterator[Sequence[Cell]]:
    for unit in situation.silent_communes:
        yield [unit.code, unit.name, situation.day]


def situation_tables(situation: Situation) -> list[Table]:
    """The situation workbook: the figures per commune, and the communes with no list today."""
    return [
        Table("Tình hình", SITUATION_COLUMNS, _situation_rows(situation)),
        Table(
            "Chưa gửi danh sách",
            [Column("Mã đơn vị"), Column("Xã/Phường"), Column("Ngày")],
            _silent_rows(situation),
        ),
    ]
