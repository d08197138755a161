"""JSON API of imports. No authentication yet: user roles come with the users issue."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, UploadFile
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from robocall.config import get_settings
from robocall.importers.reading import ImportRefused
from robocall.importers.report import build_report, expand_outcomes
from robocall.importers.service import batch_result, get_batch, import_file
from robocall.web.deps import db_session

router = APIRouter(prefix="/api/imports", tags=["imports"])
_READ_CHUNK = 1024 * 1024  # bytes


async def _read_limited(upload: UploadFile) -> bytes:
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


@router.post("")
async def create_import(
    file: Annotated[UploadFile, File(description="The spreadsheet (.xlsx .xlsm .xls .ods .csv)")],
    session: Annotated[Session, Depends(db_session)],
    unit: Annotated[str | None, Form()] = None,
    classification: Annotated[str | None, Form()] = None,
    dry_run: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    """Import one file as contacts (whole or nothing); 422 with the reason when refused."""
    content = await _read_limited(file)
    try:
        # Seconds of work for a large list: off the event loop, in the request's session.
        result = await run_in_threadpool(
            partial(
                import_file,
                db_session=session,
                content=content,
                file_name=file.filename or "upload",
                unit_code=unit or None,
                classification=classification or None,
                dry_run=dry_run,
                imported_by="api",
            )
        )
    except ImportRefused as exc:
        raise HTTPException(422, detail=str(exc)) from None
    return result.to_json()


@router.get("/{batch_id}")
def read_import(batch_id: int, session: Annotated[Session, Depends(db_session)]) -> dict[str, Any]:
    """One past import: what it did, who and when."""
    batch = get_batch(db_session=session, batch_id=batch_id)
    if batch is None:
        raise HTTPException(404, detail=f"no import {batch_id}")
    return {
        **batch_result(batch).to_json(),
        "imported_by": batch.imported_by,
        "created_at": batch.created_at.isoformat(),
        "file_size": batch.file_size,
    }


@router.get("/{batch_id}/report.xlsx")
def read_import_report(batch_id: int, session: Annotated[Session, Depends(db_session)]) -> Response:
    """The rows of the file as received, each with its status and message."""
    batch = get_batch(db_session=session, batch_id=batch_id)
    if batch is None:
        raise HTTPException(404, detail=f"no import {batch_id}")
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
