"""JSON API of hotline reports: list, read, acknowledge, close (scoped to the caller's units)."""

from __future__ import annotations

import enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.hotline.models import HotlineReport, ReportStatus
from robocall.hotline.scoping import report_visible, reports_within
from robocall.hotline.service import report_as_dict, set_report_status
from robocall.http.auth import api_user, csrf_protect, require_change, user_scope
from robocall.http.deps import db_session
from robocall.users.models import User
from robocall.users.service import Scope, record_audit, rows_shown

router = APIRouter(prefix="/api/reports", tags=["reports"])


def report_in_scope(*, db_session: Session, report_id: int, scope: Scope) -> HotlineReport:
    """The report, or 404 when there is none the caller may see."""
    report = db_session.get(HotlineReport, report_id)
    if report is None or not report_visible(db_session=db_session, report=report, scope=scope):
        raise HTTPException(404, detail=f"no report {report_id}")
    return report


def change_report_status(
    *,
    db_session: Session,
    user: User,
    scope: Scope,
    report_id: int,
    status: ReportStatus,
    client_ip: str | None,
) -> HotlineReport:
    """Acknowledge or close a report the user may see and change, with an audit entry."""
    report = report_in_scope(db_session=db_session, report_id=report_id, scope=scope)
    require_change(user)
    before = report.status
    set_report_status(db_session=db_session, report_id=report.id, status=status, by=user.username)
    record_audit(
        db_session=db_session,
        user=user,
        action="report.acknowledge" if status is ReportStatus.acknowledged else "report.close",
        object_type="report",
        object_id=report.id,
        unit_id=report.unit_id,
        detail={"from": before.value, "to": report.status.value},
        client_ip=client_ip,
    )
    return report


@router.get("")
def read_reports(
    session: Annotated[Session, Depends(db_session, scope="function")],
    user: Annotated[User, Depends(api_user)],
    scope: Annotated[Scope, Depends(user_scope)],
    urgent: Annotated[bool, Query(description="Only urgent reports.")] = False,
    status: Annotated[ReportStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """Reports the caller may see, urgent first, newest first within each (reading them is
    audited)."""
    query = reports_within(select(HotlineReport), scope)
    if urgent:
        query = query.where(HotlineReport.urgent.is_(True))
    if status is not None:
        query = query.where(HotlineReport.status == status)
    query = query.order_by(
        HotlineReport.urgent.desc(), HotlineReport.created_at.desc(), HotlineReport.id.desc()
    ).limit(limit)
    reports = list(session.scalars(query))
    record_audit(
        db_session=session,
        user=user,
        action="report.list",
        object_type="report",
        detail=rows_shown(
            [r.id for r in reports],
            urgent=urgent,
            status=status.value if status else None,
            via="api",
        ),
    )
    return {"items": [report_as_dict(r) for r in reports]}


@router.get("/{report_id}")
def read_report(
    report_id: int,
    session: Annotated[Session, Depends(db_session, scope="function")],
    user: Annotated[User, Depends(api_user)],
    scope: Annotated[Scope, Depends(user_scope)],
) -> dict[str, Any]:
    """One report (reading it is audited)."""
    report = report_in_scope(db_session=session, report_id=report_id, scope=scope)
    record_audit(
        db_session=session,
        user=user,
        action="report.view",
        object_type="report",
        object_id=report.id,
        unit_id=report.unit_id,
        detail={"via": "api"},
    )
    return report_as_dict(report)


class ReportAction(enum.StrEnum):
    acknowledge = "acknowledge"  # someone is handling the report
    close = "close"  # it has been dealt with


_STATUS_AFTER = {
    ReportAction.acknowledge: ReportStatus.acknowledged,
    ReportAction.close: ReportStatus.closed,
}


@router.post("/{report_id}/{action}", dependencies=[Depends(api_user), Depends(csrf_protect)])
def act_on_report(
    request: Request,
    report_id: int,
    action: ReportAction,
    session: Annotated[Session, Depends(db_session, scope="function")],
    user: Annotated[User, Depends(api_user)],
    scope: Annotated[Scope, Depends(user_scope)],
) -> dict[str, Any]:
    """Acknowledge a report (someone is handling it) or close it (it has been dealt with)."""
    report = change_report_status(
        db_session=session,
        user=user,
        scope=scope,
        report_id=report_id,
        status=_STATUS_AFTER[action],
        client_ip=request.client.host if request.client else None,
    )
    return report_as_dict(report)
