"""Imports run by the worker, with their progress in Redis for the upload page.

The upload page keeps the received file in Redis (under a random token, for PENDING_SECONDS)
between the preview and the confirmation; the job reads it from there.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from robocall.db import session_scope
from robocall.importers.reading import ImportRefused
from robocall.importers.service import import_file
from robocall.users.models import User
from robocall.users.service import record_audit
from robocall.workers.connection import get_redis
from robocall.workers.queues import enqueue_after_commit

PENDING_SECONDS = 3600  # a previewed file waits this long for its confirmation
STATUS_SECONDS = 86400  # an import's progress is kept this long
_PROGRESS_EVERY = 0.5  # seconds between progress writes


def _file_key(token: str) -> str:
    return f"robocall:upload:{token}:file"


def _status_key(token: str) -> str:
    return f"robocall:upload:{token}:status"


@dataclass(frozen=True)
class PendingUpload:
    token: str
    file_name: str
    unit_code: str | None
    classification: str | None
    user_id: int


def keep_upload(
    *,
    content: bytes,
    file_name: str,
    unit_code: str | None,
    classification: str | None,
    user_id: int,
) -> PendingUpload:
    """Hold a previewed file until it is confirmed (or expires)."""
    token = secrets.token_urlsafe(18)
    meta = {
        "file_name": file_name,
        "unit_code": unit_code,
        "classification": classification,
        "user_id": user_id,
    }
    client = get_redis()
    pipe = client.pipeline()
    pipe.hset(_file_key(token), mapping={"content": content, "meta": json.dumps(meta)})
    pipe.expire(_file_key(token), PENDING_SECONDS)
    pipe.execute()
    return PendingUpload(token, file_name, unit_code, classification, user_id)


def pending_upload(token: str) -> PendingUpload | None:
    """A held file's details, or None once it expired or was imported."""
    raw = get_redis().hget(_file_key(token), "meta")
    if raw is None:
        return None
    meta = json.loads(raw)
    return PendingUpload(
        token, meta["file_name"], meta["unit_code"], meta["classification"], meta["user_id"]
    )


def upload_status(token: str) -> dict[str, Any] | None:
    """{state: queued|running|done|refused, done, total, batch_id, created, updated, error}."""
    raw: dict[bytes, bytes] = get_redis().hgetall(_status_key(token))
    if not raw:
        return None
    status: dict[str, Any] = {k.decode(): v.decode() for k, v in raw.items()}
    for number in ("done", "total", "batch_id", "created", "updated", "user_id"):
        if number in status and status[number] != "":
            status[number] = int(status[number])
    return status


def _set_status(token: str, **fields: Any) -> None:
    client = get_redis()
    key = _status_key(token)
    client.hset(key, mapping={k: "" if v is None else str(v) for k, v in fields.items()})
    client.expire(key, STATUS_SECONDS)


def queue_upload(*, db_session: Session, upload: PendingUpload) -> None:
    """Import a held file in the worker once the caller's transaction commits."""
    _set_status(upload.token, state="queued", done=0, total=0, user_id=upload.user_id)
    enqueue_after_commit(
        db_session, run_upload, upload.token, queue="imports", rq_options={"job_timeout": 3600}
    )


def run_upload(token: str) -> None:
    """rq job: import a held file, writing progress for the upload page."""
    client = get_redis()
    held = client.hget(_file_key(token), "content")
    upload = pending_upload(token)
    if held is None or upload is None:
        _set_status(token, state="refused", error="expired")
        return
    _set_status(token, state="running")
    last = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= _PROGRESS_EVERY or done == total:
            last = now
            _set_status(token, done=done, total=total)

    try:
        with session_scope() as session:
            user = session.get(User, upload.user_id)
            result = import_file(
                db_session=session,
                content=bytes(held),
                file_name=upload.file_name,
                unit_code=upload.unit_code,
                classification=upload.classification,
                imported_by=f"web:{user.username if user else upload.user_id}",
                progress=progress,
            )
            if result.batch_id is not None:
                record_audit(
                    db_session=session,
                    user=user,
                    action="import.create",
                    object_type="import",
                    object_id=result.batch_id,
                    unit_id=user.unit_id if user else None,
                    detail={
                        "file": upload.file_name,
                        "unit": upload.unit_code,
                        "rows": result.rows,
                        "created": result.created,
                        "updated": result.updated,
                    },
                )
    except ImportRefused as exc:
        _set_status(token, state="refused", error=str(exc))
        return
    client.delete(_file_key(token))
    _set_status(
        token,
        state="done",
        batch_id=result.batch_id or result.already_imported,
        created=result.created,
        updated=result.updated,
    )
