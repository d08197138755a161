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
    export_file_name,
    get_export,
    write_export,
)
from robocall.users.service import record_audit
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


@router.get("/exports/{name}.{fmt}")
def download_export(
    name: str,
    fmt: str,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session)],
    unit: Annotated[str | None, Query()] = None,
    date: Annotated[dt.date | None, Query()] = None,
) -> Response:
    """The export as a file; written to a spooled temporary file, then streamed."""
    try:
        kind = get_export(name)
    except ExportError as exc:
        raise HTTPException(404, detail=str(exc)) from None
    request = ExportRequest(scope=who.scope, unit_code=unit or None, day=date)
    # Spilled to disk past 8 MB: a large export never sits whole in memory.
    spool: tempfile.SpooledTemporaryFile[bytes] = tempfile.SpooledTemporaryFile(8 * 1024 * 1024)
    try:
        write_export(db_session=session, name=name, fmt=fmt, request=request, target=spool)
    except ExportError as exc:
        spool.close()
        raise HTTPException(404 if "unit" in str(exc) else 422, detail=str(exc)) from None
    file_name = export_file_name(name=name, fmt=fmt, day=date)
    record_audit(
        db_session=session,
        user=who.user,
        action="export.download",
        object_type="export",
        object_id=name,
        unit_id=who.user.unit_id,
        detail={"file": file_name, "unit": unit, "personal_data": kind.personal_data},
        client_ip=who.client_ip,
    )
    return StreamingResponse(
        _stream(spool),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(file_name)}"},
    )
