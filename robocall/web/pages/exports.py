"""The exports page and the downloads (each download is audited)."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy.orm import Session

from robocall.exports.service import (
    EXPORTS,
    ExportError,
    ExportRequest,
    ExportUnitUnknown,
    export_file_name,
    get_export,
    write_export,
)
from robocall.users.models import User
from robocall.users.service import Scope, record_audit
from robocall.web.auth import api_user, user_scope
from robocall.web.deps import db_session
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
    session: Annotated[Session, Depends(db_session)],
) -> Response:
    return render(
        request,
        who,
        "exports.html",
        {
            "exports": list(EXPORTS.values()),
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
) -> Response:
    """The export as a download: written to a spooled temporary file, then streamed; audited."""
    try:
        kind = get_export(name)
    except ExportError as exc:
        raise HTTPException(404, detail=str(exc)) from None
    request = ExportRequest(scope=scope, unit_code=unit or None, day=day)
    # Spilled to disk past 8 MB: a large export never sits whole in memory.
    spool: tempfile.SpooledTemporaryFile[bytes] = tempfile.SpooledTemporaryFile(8 * 1024 * 1024)
    try:
        write_export(db_session=db_session, name=name, fmt=fmt, request=request, target=spool)
    except ExportUnitUnknown as exc:
        spool.close()
        raise HTTPException(404, detail=str(exc)) from None
    except ExportError as exc:
        spool.close()
        raise HTTPException(422, detail=str(exc)) from None
    file_name = export_file_name(name=name, fmt=fmt, day=day)
    record_audit(
        db_session=db_session,
        user=user,
        action="export.download",
        object_type="export",
        object_id=name,
        unit_id=user.unit_id,
        detail={"file": file_name, "unit": unit, "personal_data": kind.personal_data},
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
    session: Annotated[Session, Depends(db_session)],
    unit: Annotated[str | None, Query()] = None,
    date: Annotated[dt.date | None, Query()] = None,
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
    )


api_router = APIRouter(prefix="/api/exports", tags=["exports"])


@api_router.get("/{name}.{fmt}")
def download_export_api(
    request: Request,
    name: str,
    fmt: str,
    user: Annotated[User, Depends(api_user)],
    scope: Annotated[Scope, Depends(user_scope)],
    session: Annotated[Session, Depends(db_session)],
    unit: Annotated[str | None, Query(description="Unit code (and the units below it).")] = None,
    date: Annotated[dt.date | None, Query(description="Day of the situation report.")] = None,
) -> Response:
    """An export (contacts, reports: xlsx or csv; situation: xlsx) for scripts."""
    return export_response(
        db_session=session,
        user=user,
        scope=scope,
        name=name,
        fmt=fmt,
        unit=unit,
        day=date,
        client_ip=request.client.host if request.client else None,
    )
