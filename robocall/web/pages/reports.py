"""Hotline reports: urgent first; acknowledge, close, listen to the recordings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.contacts.models import Contact
from robocall.hotline.models import HotlineReport, ReportContact, ReportStatus
from robocall.hotline.routes import change_report_status, report_in_scope
from robocall.hotline.scoping import reports_within
from robocall.http.auth import csrf_protect
from robocall.http.deps import db_session
from robocall.users.scoping import within
from robocall.users.service import record_audit, rows_shown
from robocall.web.pages.common import Viewer, render, viewer

router = APIRouter(include_in_schema=False)
REPORTS_SHOWN = 500


@router.get("/reports", response_class=HTMLResponse)
def reports_page(
    request: Request,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
    show_closed: Annotated[bool, Query(alias="all")] = False,
) -> Response:
    query = reports_within(select(HotlineReport), who.scope)
    if not show_closed:
        query = query.where(HotlineReport.status != ReportStatus.closed)
    query = query.order_by(
        HotlineReport.urgent.desc(), HotlineReport.created_at.desc(), HotlineReport.id.desc()
    ).limit(REPORTS_SHOWN)
    reports = list(session.scalars(query))
    record_audit(
        db_session=session,
        user=who.user,
        action="report.list",
        object_type="report",
        detail=rows_shown([r.id for r in reports], all=show_closed),
        client_ip=who.client_ip,
    )
    return render(request, who, "reports.html", {"reports": reports, "show_closed": show_closed})


@router.get("/reports/{report_id}", response_class=HTMLResponse)
def report_page(
    request: Request,
    report_id: int,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
) -> Response:
    report = report_in_scope(db_session=session, report_id=report_id, scope=who.scope)
    # The person it is about, of those it is linked to, that this viewer may see.
    contact = session.scalar(
        within(select(Contact), Contact.unit_id, who.scope)
        .join(ReportContact, ReportContact.contact_id == Contact.id)
        .where(ReportContact.report_id == report.id)
        .order_by(Contact.id != (report.contact_id or 0), Contact.id)
        .limit(1)
    )
    record_audit(
        db_session=session,
        user=who.user,
        action="report.view",
        object_type="report",
        object_id=report.id,
        unit_id=report.unit_id,
        client_ip=who.client_ip,
    )
    return render(request, who, "report.html", {"report": report, "contact": contact})


def _change(
    who: Viewer, session: Session, report_id: int, status: ReportStatus
) -> RedirectResponse:
    change_report_status(
        db_session=session,
        user=who.user,
        scope=who.scope,
        report_id=report_id,
        status=status,
        client_ip=who.client_ip,
    )
    return RedirectResponse(f"/reports/{report_id}", status_code=303)


@router.post("/reports/{report_id}/acknowledge", dependencies=[Depends(csrf_protect)])
def acknowledge(
    report_id: int,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
) -> Response:
    return _change(who, session, report_id, ReportStatus.acknowledged)


@router.post("/reports/{report_id}/close", dependencies=[Depends(csrf_protect)])
def close(
    report_id: int,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
) -> Response:
    return _change(who, session, report_id, ReportStatus.closed)
