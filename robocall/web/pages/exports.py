"""The exports page and the downloads (each download is audited)."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from robocall.campaigns.access import campaign_visible, visible_campaigns
from robocall.campaigns.models import Campaign
from robocall.exports.service import (
    EXPORTS,
    ExportError,
    ExportNotFound,
    ExportRequest,
    export_file_name,
    get_export,
    write_export,
)
from robocall.exports.tasks import export_status, prepared_file, queue_export
from robocall.http.auth import api_user, csrf_protect, user_scope
from robocall.http.deps import db_session
from robocall.units.service import get_by_code
from robocall.users.models import User
from robocall.users.service import Scope, record_audit
from robocall.web.pages.common import Viewer, local_today, render, units_in_scope, viewer

router = APIRouter(include_in_schema=False)
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
_CHUNK = 64 * 1024  # bytes per piece of a download


@router.get("/exports", response_class=HTMLResponse)
def exports_page(
    request: Request,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
) -> Response:
    return render(
        request,
        who,
        "exports.html",
        {
            "exports": list(EXPORTS.values()),
            "campaigns": visible_campaigns(db_session=session, scope=who.scope),
            "units": units_in_scope(db_session=session, scope=who.scope),
            "today": local_today(),
        },
    )


def _stream(spool: tempfile.SpooledTemporaryFile[bytes]) -> Iterator[bytes]:
    try:
        spool.seek(0)
        while chunk := spool.read(_CHUNK):
            yield chunk
    finally:
        spool.close()


def export_response(
    *,
    db_session: Session,
    user: User,
    scope: Scope,
    name: str,
    fmt: str,
    unit: str | None,
    day: dt.date | None,
    client_ip: str | None,
    campaign_id: int | None = None,
) -> Response:
    """The export as a download: written to a spooled temporary file, then streamed; audited."""
    try:
        kind = get_export(name)
    except ExportError as exc:
        raise HTTPException(404, detail=str(exc)) from None
    request = ExportRequest(scope=scope, unit_code=unit or None, day=day, campaign_id=campaign_id)
    # Spilled to disk past 8 MB: a large export never sits whole in memory.
    spool: tempfile.SpooledTemporaryFile[bytes] = tempfile.SpooledTemporaryFile(8 * 1024 * 1024)
    try:
        write_export(db_session=db_session, name=name, fmt=fmt, request=request, target=spool)
    except ExportNotFound as exc:
        spool.close()
        raise HTTPException(404, detail=str(exc)) from None
    except ExportError as exc:
        spool.close()
        raise HTTPException(422, detail=str(exc)) from None
    file_name = export_file_name(name=name, fmt=fmt, day=day, campaign_id=campaign_id)
    record_audit(
        db_session=db_session,
        user=user,
        action="export.download",
        object_type="export",
        object_id=name,
        unit_id=user.unit_id,
        detail={
            "file": file_name,
            "unit": unit,
            "campaign": campaign_id,
            "personal_data": kind.personal_data,
        },
        client_ip=client_ip,
    )
    return StreamingResponse(
        _stream(spool),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(file_name)}"},
    )


@router.get("/exports/{name}.{fmt}")
def download_export(
    name: str,
    fmt: str,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
    unit: Annotated[str | None, Query()] = None,
    date: Annotated[dt.date | None, Query()] = None,
    campaign: Annotated[int | None, Query()] = None,
) -> Response:
    return export_response(
        db_session=session,
        user=who.user,
        scope=who.scope,
        name=name,
        fmt=fmt,
        unit=unit,
        day=date,
        client_ip=who.client_ip,
        campaign_id=campaign,
    )


api_router = APIRouter(prefix="/api/exports", tags=["exports"])


@api_router.get("/{name}.{fmt}")
def download_export_api(
    request: Request,
    name: str,
    fmt: str,
    user: Annotated[User, Depends(api_user)],
    scope: Annotated[Scope, Depends(user_scope)],
    session: Annotated[Session, Depends(db_session, scope="function")],
    unit: Annotated[str | None, Query(description="Unit code (and the units below it).")] = None,
    date: Annotated[dt.date | None, Query(description="Day of the situation report.")] = None,
    campaign: Annotated[int | None, Query(description="The campaign's number.")] = None,
) -> Response:
    """An export (contacts, reports, campaign: xlsx or csv; situation: xlsx) for scripts."""
    return export_response(
        db_session=session,
        user=user,
        scope=scope,
        name=name,
        fmt=fmt,
        unit=unit,
        day=date,
        client_ip=request.client.host if request.client else None,
        campaign_id=campaign,
    )


@router.post("/exports/{name}/prepare", dependencies=[Depends(csrf_protect)])
def prepare_export(
    name: str,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
    fmt: Annotated[str, Form()],
    unit: Annotated[str | None, Form()] = None,
    date: Annotated[dt.date | None, Form()] = None,
    campaign: Annotated[int | None, Form()] = None,
) -> Response:
    """Have the worker prepare the export; follow it on its progress page."""
    code = (unit or "").strip() or None
    if code is not None:
        found = get_by_code(db_session=session, code=code)
        if found is None or not who.scope.allows(found.id):
            raise HTTPException(404, detail=f"unit: no unit with code {code!r}")
    if name in EXPORTS and EXPORTS[name].needs_campaign:
        found_campaign = session.get(Campaign, campaign) if campaign is not None else None
        if found_campaign is None or not campaign_visible(
            db_session=session, campaign=found_campaign, scope=who.scope
        ):
            raise HTTPException(404, detail=f"campaign: no campaign {campaign}")
    try:
        token = queue_export(
            db_session=session,
            user=who.user,
            name=name,
            fmt=fmt,
            unit_code=code,
            day=date,
            campaign_id=campaign,
        )
    except ExportError as exc:
        raise HTTPException(404 if name not in EXPORTS else 422, detail=str(exc)) from None
    return RedirectResponse(f"/exports/prepared/{token}", status_code=303)


def _own_export(token: str, who: Viewer, session: Session) -> dict[str, Any]:
    status = export_status(token, db_session=session)
    if status is None or status.get("user_id") != who.user.id:
        raise HTTPException(404, detail="no such export")
    return status


@router.get("/exports/prepared/{token}", response_class=HTMLResponse)
def prepared_page(
    request: Request,
    token: str,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
) -> Response:
    status = _own_export(token, who, session)
    ready = status["state"] == "done" and prepared_file(token, db_session=session).exists()
    return render(
        request, who, "export_status.html", {"status": status, "token": token, "ready": ready}
    )


@router.get("/exports/prepared/{token}/progress")
def prepared_progress(
    token: str,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
) -> JSONResponse:
    return JSONResponse(_own_export(token, who, session))


@router.get("/exports/prepared/{token}/file")
def prepared_download(
    token: str,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
) -> Response:
    """The prepared file, once (it is deleted after it is sent); audited."""
    status = _own_export(token, who, session)
    path = prepared_file(token, db_session=session)
    if status["state"] != "done" or not path.exists():
        raise HTTPException(410, detail="the file was already downloaded or has expired")
    day = dt.date.fromisoformat(status["day"]) if status.get("day") else None
    file_name = export_file_name(
        name=status["name"], fmt=status["fmt"], day=day, campaign_id=status.get("campaign")
    )
    record_audit(
        db_session=session,
        user=who.user,
        action="export.download",
        object_type="export",
        object_id=status["name"],
        unit_id=who.user.unit_id,
        detail={
            "file": file_name,
            "unit": status.get("unit") or None,
            "campaign": status.get("campaign"),
            "personal_data": get_export(status["name"]).personal_data,
            "via": "worker",
        },
        client_ip=who.client_ip,
    )
    return FileResponse(
        path,
        media_type=MEDIA_TYPES[status["fmt"]],
        filename=file_name,
        background=BackgroundTask(path.unlink, missing_ok=True),
    )
