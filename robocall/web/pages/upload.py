"""Upload a commune's list: choose file, unit and classification; preview; confirm; progress."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from robocall.contacts.models import Classification
from robocall.http.auth import csrf_protect
from robocall.http.deps import db_session
from robocall.importers.models import ImportBatch
from robocall.importers.preview import preview_file
from robocall.importers.reading import ImportRefused
from robocall.importers.routes import import_unit, read_limited
from robocall.importers.service import import_file
from robocall.importers.tasks import keep_upload, pending_upload, queue_upload, upload_status
from robocall.users.scoping import within
from robocall.web.pages.common import Viewer, render, units_in_scope, viewer

router = APIRouter(include_in_schema=False)
RECENT_IMPORTS = 20
WARNINGS_SHOWN = 200  # the rest are in the row report


def _form(
    request: Request,
    who: Viewer,
    session: Session,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    recent = list(
        session.scalars(
            within(select(ImportBatch), ImportBatch.unit_id, who.scope)
            .order_by(ImportBatch.id.desc())
            .limit(RECENT_IMPORTS)
        )
    )
    return render(
        request,
        who,
        "upload.html",
        {
            "units": units_in_scope(db_session=session, scope=who.scope),
            "classifications": [c.value for c in Classification],
            "recent": recent,
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/upload", response_class=HTMLResponse)
def upload_form(
    request: Request,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
) -> Response:
    return _form(request, who, session)


@router.post("/upload", response_class=HTMLResponse, dependencies=[Depends(csrf_protect)])
async def upload_preview(
    request: Request,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
    file: Annotated[UploadFile, File()],
    unit: Annotated[str | None, Form()] = None,
    classification: Annotated[str | None, Form()] = None,
) -> Response:
    who.require_change()
    unit_code = import_unit(db_session=session, user=who.user, scope=who.scope, unit=unit)
    content = await read_limited(file)
    file_name = file.filename or "upload"
    try:
        # Seconds of work for a large list: off the event loop, in the request's session.
        result = await run_in_threadpool(
            partial(
                import_file,
                db_session=session,
                content=content,
                file_name=file_name,
                unit_code=unit_code,
                classification=classification or None,
                dry_run=True,
                imported_by=f"web:{who.user.username}",
            )
        )
        sheets = await run_in_threadpool(
            partial(preview_file, content=content, file_name=file_name)
        )
    except ImportRefused as exc:
        session.rollback()
        return _form(request, who, session, error=str(exc), status_code=422)
    session.rollback()  # a dry run writes nothing; nothing is kept open while the file waits
    # Off the event loop too: on SQLite the insert may wait for a worker's import to commit.
    held = await run_in_threadpool(
        partial(
            keep_upload,
            db_session=session,
            content=content,
            file_name=file_name,
            unit_code=unit_code,
            classification=classification or None,
            user_id=who.user.id,
        )
    )
    warnings_by_row: dict[tuple[str, int], list[str]] = {}
    for warning in result.warnings:
        warnings_by_row.setdefault((warning["sheet"], warning["row"]), []).append(
            warning["message"]
        )
    return render(
        request,
        who,
        "upload_preview.html",
        {
            "result": result,
            "sheets": sheets,
            "token": held.token,
            "unit_code": unit_code,
            "warnings": result.warnings[:WARNINGS_SHOWN],
            "more_warnings": max(0, len(result.warnings) - WARNINGS_SHOWN),
            "warnings_by_row": warnings_by_row,
        },
    )


@router.post("/upload/confirm", dependencies=[Depends(csrf_protect)])
def upload_confirm(
    request: Request,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
    token: Annotated[str, Form()],
) -> Response:
    who.require_change()
    upload = pending_upload(token, db_session=session)
    if upload is None or upload.user_id != who.user.id:
        confirmed = upload_status(token, db_session=session)
        if confirmed is not None and confirmed["user_id"] == who.user.id:
            # Confirmed twice (a second click, the page sent again): it is already on its way.
            return RedirectResponse(f"/upload/status/{token}", status_code=303)
        return _form(request, who, session, error="expired", status_code=410)
    queue_upload(db_session=session, upload=upload)
    return RedirectResponse(f"/upload/status/{token}", status_code=303)


def _own_status(token: str, who: Viewer, session: Session) -> dict[str, Any]:
    status = upload_status(token, db_session=session)
    if status is None or status.get("user_id") != who.user.id:
        raise HTTPException(404, detail="no such import")
    return status


@router.get("/upload/status/{token}", response_class=HTMLResponse)
def upload_progress(
    request: Request,
    token: str,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
) -> Response:
    status = _own_status(token, who, session)
    return render(request, who, "upload_status.html", {"status": status, "token": token})


@router.get("/upload/status/{token}/progress")
def upload_progress_json(
    token: str,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
) -> JSONResponse:
    return JSONResponse(_own_status(token, who, session))
