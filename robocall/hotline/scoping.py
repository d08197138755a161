"""Which reports a user may see: those of their units, and those about a contact of their
units (a number several units' lists share is linked to each of its contacts)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVar

from sqlalchemy import Select, false, or_, select
from sqlalchemy.orm import Session

from robocall.hotline.models import HotlineReport, ReportContact
from robocall.users.service import Scope

S = TypeVar("S", bound="Select[*tuple[Any, ...]]")


def reports_within(query: S, scope: Scope) -> S:
    """`query` over reports limited to those the scope may see (all for admins)."""
    if scope.unit_ids is None:
        return query
    if not scope.unit_ids:
        return query.where(false())
    units = sorted(scope.unit_ids)
    linked = select(ReportContact.report_id).where(ReportContact.unit_id.in_(units))
    return query.where(or_(HotlineReport.unit_id.in_(units), HotlineReport.id.in_(linked)))


def report_visible(*, db_session: Session, report: HotlineReport, scope: Scope) -> bool:
    """Whether the scope may see this report."""
    if scope.allows(report.unit_id):
        return True
    if not scope.unit_ids:
        return False
    return (
        db_session.scalar(
            select(ReportContact.report_id).where(
                ReportContact.report_id == report.id,
                ReportContact.unit_id.in_(sorted(scope.unit_ids)),
            )
        )
        is not None
    )


def units_of_reports(
    *, db_session: Session, reports: Collection[HotlineReport]
) -> dict[int, set[int | None]]:
    """Each report's units: its own, else those of the contacts it concerns."""
    units: dict[int, set[int | None]] = {r.id: {r.unit_id} for r in reports if r.unit_id}
    unlinked = [r.id for r in reports if not r.unit_id]
    for start in range(0, len(unlinked), 500):
        for report_id, unit_id in db_session.execute(
            select(ReportContact.report_id, ReportContact.unit_id).where(
                ReportContact.report_id.in_(unlinked[start : start + 500])
            )
        ):
            units.setdefault(report_id, set()).add(unit_id)
    for report_id in unlinked:
        units.setdefault(report_id, {None})
    return units
