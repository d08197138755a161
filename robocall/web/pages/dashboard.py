"""The dashboard: the day's situation per commune, urgent reports first, the last 14 days."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.config import get_settings
from robocall.exports.daily import daily_counts
from robocall.exports.situation import build_situation
from robocall.hotline.models import HotlineReport, ReportStatus
from robocall.hotline.scoping import reports_within
from robocall.hotline.service import failed_alerts
from robocall.http.deps import db_session
from robocall.users.service import record_audit, rows_shown
from robocall.web.pages.common import Viewer, local_today, render, viewer

router = APIRouter(include_in_schema=False)
CHART_DAYS = 14
URGENT_ON_DASHBOARD = 20  # newest open urgent reports shown


@router.get("/", response_class=HTMLResponse)
def dashboard(
    request: Request,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
) -> Response:
    zone = get_settings().zone
    today = local_today()
    situation = build_situation(db_session=session, scope=who.scope, day=today, zone=zone)
    days = daily_counts(
        db_session=session, scope=who.scope, last_day=today, days=CHART_DAYS, zone=zone
    )
    urgent = list(
        session.scalars(
            reports_within(
                select(HotlineReport).where(
                    HotlineReport.urgent.is_(True), HotlineReport.status != ReportStatus.closed
                ),
                who.scope,
            )
            .order_by(HotlineReport.created_at.desc())
            .limit(URGENT_ON_DASHBOARD)
        )
    )
    undelivered = failed_alerts(db_session=session, scope=who.scope)
    peak = max([1, *(max(d.reached, d.reports, d.imports) for d in days)])
    # The urgent reports name people; the counts do not.
    record_audit(
        db_session=session,
        user=who.user,
        action="dashboard.view",
        object_type="report",
        detail=rows_shown(
            sorted({r.id for r in urgent} | {a.report_id for a in undelivered}),
            day=today.isoformat(),
        ),
        client_ip=who.client_ip,
    )
    return render(
        request,
        who,
        "dashboard.html",
        {
            "situation": situation,
            "days": days,
            "peak": peak,
            "urgent": urgent,
            "undelivered": undelivered,
        },
    )
