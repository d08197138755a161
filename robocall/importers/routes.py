"""JSON API of imports, scoped to the caller's units; importing needs a role that may change."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, UploadFile
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from robocall.config import get_settings
from robocall.http.auth import api_user, csrf_protect, require_change, user_scope
from robocall.http.deps import db_session
from robocall.importers.models import ImportBatch
from robocall.importers.reading import ImportRefused
from robocall.importers.report import build_report, expand_outcomes
from robocall.importers.service import batch_result, get_batch, import_file
from robocall.units.service import get_by_code
from robocall.users.models import Role, User
from robocall.users.service import Scope, record_audit

router = APIRouter(prefix="/api/imports", tags=["imports"])
_READ_CHUNK = 1024 * 1024  # bytes


async def read_limited(upload: UploadFile) -> bytes:
    """The uploaded file, refused as soon as it passes the size limit."""
    limit = get_settings().import_max_bytes
    chunks: list[bytes] = []
    size = 0
    while chunk := await upload.read(_READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise HTTPException(
                422,
                detail=f"{upload.filename}: the file is over the limit of "
                f"{limit / 1_048_576:.0f} MB; split it into smaller files",
            )
        chunks.append(chunk)
    return b"".join(chunks)


def import_unit(*, db_session: Session, user: User, scope: Scope, unit: str | None) -> str | None:
    """The unit an import goes to: one the caller sees (404 otherwise); theirs by default."""
    code = (unit or "").strip() or None
    if code is None:
        return None if user.role is Role.admin or user.unit is None else user.unit.code
    found = get_by_code(db_session=db_session, code=code)
    if found is None or not scope.allows(found.id):
        raise HTTPException(404, detail=f"unit: no unit with code {code!r}")
    return found.code


def batch_in_scope(*, db_session: Session, batch_id: int, scope: Scope) -> ImportBatch:
    """An import the caller may see, or 404."""
    batch = get_batch(db_session=db_session, batch_id=batch_id)
    if batch is None or not scope.allows(batch.unit_id):
        raise HTTPException(404, detail=f"no import {batch_id}")
    return batch


@router.post("", dependencies=[Depends(api_user), Depends(csrf_protect)])
async def create_import(
    file: Annotated[UploadFile, File(description="The spreadsheet (.xlsx .xlsm .xls .ods .csv)")],
    session: Annotated[Session, Depends(db_session, scope="function")],
    user: Annotated[User, Depends(api_user)],
    scope: Annotated[Scope, Depends(user_scope)],
    unit: Annotated[str | None, Form()] = None,
    classification: Annotated[str | None, Form()] = None,
    dry_run: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    """Import one file as contacts (whole or nothing); 422 with the reason when refused."""
    require_change(user)
    unit_code = import_unit(db_session=session, user=user, scope=scope, unit=unit)
    content = await read_limited(file)
    try:
        # Seconds of work for a large list: off the event loop, in the request's session.
        result = await run_in_threadpool(
            partial(
                import_file,
                db_session=session,
                content=content,
                file_name=file.filename or "upload",
                unit_code=unit_code,
                classification=classification or None,
                dry_run=dry_run,
                imported_by=f"api:{user.username}",
            )
        )
    except ImportRefused as exc:
        raise HTTPException(422, detail=str(exc)) from None
    if result.batch_id is not None:
        record_audit(
            db_session=session,
            user=user,
            action="import.create",
            object_type="import",
            object_id=result.batch_id,
            unit_id=user.unit_id,
            detail={"file": result.file, "unit": unit_code, "rows": result.rows, "via": "api"},
        )
    return result.to_json()


@router.get("/{batch_id}")
def read_import(
    batch_id: int,
    session: Annotated[Session, Depends(db_session, scope="function")],
    user: Annotated[User, Depends(api_user)],
    scope: Annotated[Scope, Depends(user_scope)],
) -> dict[str, Any]:
    """One past import: what it did, who and when (its warnings name people: audited)."""
    batch = batch_in_scope(db_session=session, batch_id=batch_id, scope=scope)
    record_audit(
        db_session=session,
        user=user,
        action="import.view",
        object_type="import",
        object_id=batch.id,
        unit_id=batch.unit_id,
        detail={"file": batch.file_name},
    )
    return {
        **batch_result(batch).to_json(),
        "imported_by": batch.imported_by,
        "created_at": batch.created_at.isoformat(),
        "file_size": batch.file_size,
    }


@router.get("/{batch_id}/report.xlsx")
def read_import_report(
    batch_id: int,
    session: Annotated[Session, Depends(db_session, scope="function")],
    user: Annotated[User, Depends(api_user)],
    scope: Annotated[Scope, Depends(user_scope)],
) -> Response:
    """The rows of the file as received, each with its status and message."""
    batch = batch_in_scope(db_session=session, batch_id=batch_id, scope=scope)
    record_audit(
        db_session=session,
        user=user,
        action="import.report_download",
        object_type="import",
        object_id=batch.id,
        unit_id=batch.unit_id,
        detail={"file": batch.file_name},
    )
    content = build_report(
        content=batch.original,
        file_name=batch.file_name,
        row_outcomes=expand_outcomes(batch.row_outcomes),
    )
    stem = batch.file_name.rsplit(".", 1)[0]
    return Response(
        content,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{_quote(stem)}-report.xlsx"},
    )


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")
