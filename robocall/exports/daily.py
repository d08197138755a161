"""Counts per day for the dashboard's chart: people reached, reports, lists received."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.contacts.models import Contact
from robocall.exports.situation import day_bounds
from robocall.hotline.models import HotlineReport
from robocall.hotline.scoping import reports_within
from robocall.importers.models import ImportBatch
from robocall.telephony.base import AnsweredBy, CallStatus
from robocall.telephony.models import Call
from robocall.users.scoping import within
from robocall.users.service import Scope


@dataclass(frozen=True)
class DayCounts:
    day: dt.date
    reached: int  # distinct people on the lists a call answered by a person reached
    reports: int  # hotline reports received
    imports: int  # lists received


def daily_counts(
    *, db_session: Session, scope: Scope, last_day: dt.date, days: int, zone: ZoneInfo
) -> list[DayCounts]:
    """Per local day, the `days` days up to `last_day`, oldest first."""
    first_day = last_day - dt.timedelta(days=days - 1)
    start, _ = day_bounds(first_day, zone)
    _, end = day_bounds(last_day, zone)

    def local_day(at: dt.datetime) -> dt.date:
        return at.astimezone(zone).date()

    reached: dict[dt.date, set[int]] = defaultdict(set)
    calls = within(
        select(Call.created_at, Contact.id)
        .join(Contact, Contact.phone == Call.to_number)
        .where(
            Call.status == CallStatus.completed,
            Call.answered_by == AnsweredBy.human,
            Call.created_at >= start,
            Call.created_at < end,
        ),
        Contact.unit_id,
        scope,
    )
    for at, contact_id in db_session.execute(calls):
        reached[local_day(at)].add(contact_id)
    reports: dict[dt.date, int] = defaultdict(int)
    report_times = reports_within(
        select(HotlineReport.created_at).where(
            HotlineReport.created_at >= start, HotlineReport.created_at < end
        ),
        scope,
    )
    for at in db_session.scalars(report_times):
        reports[local_day(at)] += 1
    imports: dict[dt.date, int] = defaultdict(int)
    import_times = within(
        select(ImportBatch.created_at).where(
            ImportBatch.created_at >= start, ImportBatch.created_at < end
        ),
        ImportBatch.unit_id,
        scope,
    )
    for at in db_session.scalars(import_times):
        imports[local_day(at)] += 1
    result = []
    for offset in range(days):
        day = first_day + dt.timedelta(days=offset)
        result.append(DayCounts(day, len(reached[day]), reports[day], imports[day]))
    return result
