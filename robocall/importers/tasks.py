"""Imports run by the worker, for the upload page, each recorded as an `Upload` row.

The page keeps the received file in the database (under a random token, for PENDING_SECONDS)
between the preview and the confirmation. The confirmation marks the row queued and queues the
job after its commit; the job takes the row (queued → running) before it imports, so of two
jobs for one upload one imports. If Redis loses the job, or the worker dies, the sweeper
(robocall.importers.scheduled) queues the row again: nothing of an upload lives only in Redis.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, select, update
from sqlalchemy.orm import Session

from robocall.db import get_engine, session_scope, utcnow
from robocall.importers.models import Upload, UploadState
from robocall.importers.reading import ImportRefused
from robocall.importers.service import import_file
from robocall.users.models import User
from robocall.users.service import record_audit
from robocall.workers.queues import enqueue_after_commit

log = logging.getLogger(__name__)

PENDING_SECONDS = 3600  # a previewed file waits this long for its confirmation
STATUS_SECONDS = 86400  # a finished import's row (its page) is kept this long
JOB_TIMEOUT = 3600  # seconds rq lets one import run
MAX_TRIES = 3  # an import that fails this many times (not refused: crashed) is given up
_PROGRESS_EVERY = 0.5  # seconds between progress writes
GAVE_UP = "the import stopped with an error every time it was tried; ask the administrator"


@dataclass(frozen=True)
class PendingUpload:
    token: str
    file_name: str
    unit_code: str | None
    classification: str | None
    user_id: int


def keep_upload(
    *,
    db_session: Session,
    content: bytes,
    file_name: str,
    unit_code: str | None,
    classification: str | None,
    user_id: int,
) -> PendingUpload:
    """Hold a previewed file until it is confirmed (or expires), in the caller's transaction."""
    token = secrets.token_urlsafe(18)
    db_session.add(
        Upload(
            token=token,
            user_id=user_id,
            file_name=file_name,
            unit_code=unit_code,
            classification=classification,
            content=content,
            state=UploadState.previewed,
            expires_at=utcnow() + dt.timedelta(seconds=PENDING_SECONDS),
        )
    )
    db_session.flush()
    return PendingUpload(token, file_name, unit_code, classification, user_id)


def pending_upload(token: str, *, db_session: Session) -> PendingUpload | None:
    """A held file's details, or None once it expired or was confirmed."""
    upload = db_session.scalar(
        select(Upload).where(
            Upload.token == token,
            Upload.state == UploadState.previewed,
            Upload.expires_at > utcnow(),
        )
    )
    if upload is None:
        return None
    return PendingUpload(
        token, upload.file_name, upload.unit_code, upload.classification, upload.user_id
    )


def upload_status(token: str, *, db_session: Session) -> dict[str, Any] | None:
    """{state: queued|running|done|refused, done, total, batch_id, created, updated, error,
    user_id}; None for no such upload, or one never confirmed."""
    upload = db_session.scalar(
        select(Upload).where(Upload.token == token, Upload.state != UploadState.previewed)
    )
    if upload is None:
        return None
    return {
        "state": upload.state.value,
        "done": upload.done,
        "total": upload.total,
        "batch_id": upload.batch_id,
        "created": upload.created,
        "updated": upload.updated,
        "error": upload.error,
        "user_id": upload.user_id,
    }


def queue_upload(*, db_session: Session, upload: PendingUpload) -> None:
    """Import a held file in the worker once the caller's transaction commits."""
    db_session.execute(
        update(Upload)
        .where(Upload.token == upload.token, Upload.state == UploadState.previewed)
        .values(state=UploadState.queued, queued_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    enqueue_upload(db_session, upload.token)


def enqueue_upload(db_session: Session, token: str) -> None:
    """Send the upload's job once `db_session` commits (the page, or the sweeper)."""
    enqueue_after_commit(
        db_session, run_upload, token, queue="imports", rq_options={"job_timeout": JOB_TIMEOUT}
    )


@dataclass(frozen=True)
class _Taken:
    """An upload as a worker took it; `tries` tells this run from a later one."""

    token: str
    tries: int
    content: bytes
    file_name: str
    unit_code: str | None
    classification: str | None
    user_id: int


def _take(token: str) -> _Taken | None:
    """Take a queued upload (queued → running) in a short transaction of its own; None if
    another job has it, or it is finished. Atomic: of two jobs for one upload, one runs."""
    with session_scope() as db_session:
        taken = db_session.execute(
            update(Upload)
            .where(Upload.token == token, Upload.state == UploadState.queued)
            .values(state=UploadState.running, taken_at=utcnow(), tries=Upload.tries + 1)
            .returning(
                Upload.tries,
                Upload.content,
                Upload.file_name,
                Upload.unit_code,
                Upload.classification,
                Upload.user_id,
            )
            .execution_options(synchronize_session=False)
        ).one_or_none()
    if taken is None:
        return None
    return _Taken(
        token,
        taken.tries,
        bytes(taken.content or b""),
        taken.file_name,
        taken.unit_code,
        taken.classification,
        taken.user_id,
    )


def _still_mine(taken: _Taken) -> ColumnElement[bool]:
    """The rows of this run's upload, unless the sweeper gave it to another run since.

    `queued` too: put back by the sweeper (this worker seemed dead) but not yet taken again,
    this run may still finish it, and the job queued meanwhile will find nothing to do.
    """
    return (
        (Upload.token == taken.token)
        & (Upload.tries == taken.tries)
        & Upload.state.in_([UploadState.running, UploadState.queued])
    )


def _finish(db_session: Session, taken: _Taken, **values: Any) -> bool:
    """Record how the upload ended, in `db_session`; False if it is no longer this run's."""
    finished = db_session.execute(
        update(Upload)
        .where(_still_mine(taken))
        .values(content=None, expires_at=utcnow() + dt.timedelta(seconds=STATUS_SECONDS), **values)
        .execution_options(synchronize_session=False)
    )
    return bool(cast(CursorResult[Any], finished).rowcount)


def _note_progress(taken: _Taken, done: int, total: int) -> None:
    """Write the progress (and that the worker is alive) to the row, in its own transaction.

    Not on SQLite: there the import's own transaction holds the database's one write lock
    until it commits (this one would wait out the busy timeout, then fail), so the page
    sees the progress only at the end.
    """
    if get_engine().dialect.name == "sqlite":
        return
    with session_scope() as db_session:
        db_session.execute(
            update(Upload)
            .where(_still_mine(taken), Upload.state == UploadState.running)
            .values(done=done, total=total, taken_at=utcnow())
            .execution_options(synchronize_session=False)
        )


class _NoLongerMine(Exception):
    """The sweeper gave the upload to another run: this one's import is rolled back."""


def run_upload(token: str) -> None:
    """rq job: import a held file, writing progress for the upload page."""
    taken = _take(token)
    if taken is None:
        return
    last = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= _PROGRESS_EVERY or done == total:
            last = now
            _note_progress(taken, done, total)

    try:
        # The import, its audit entry and the row's `done` commit together: a worker dying
        # between them cannot leave a list imported and its upload to be imported again.
        with session_scope() as session:
            user = session.get(User, taken.user_id)
            result = import_file(
                db_session=session,
                content=taken.content,
                file_name=taken.file_name,
                unit_code=taken.unit_code,
                classification=taken.classification,
                imported_by=f"web:{user.username if user else taken.user_id}",
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
                        "file": taken.file_name,
                        "unit": taken.unit_code,
                        "rows": result.rows,
                        "created": result.created,
                        "updated": result.updated,
                    },
                )
            if not _finish(
                session,
                taken,
                state=UploadState.done,
                done=result.rows,
                total=result.rows,
                batch_id=result.batch_id or result.already_imported,
                created=result.created,
                updated=result.updated,
                error=None,
            ):
                raise _NoLongerMine(token)
    except ImportRefused as exc:
        with session_scope() as session:
            _finish(session, taken, state=UploadState.refused, error=str(exc))
    except _NoLongerMine:
        log.warning("upload %s: taken again by another run while importing; rolled back", token)
    except Exception:
        _give_back(taken)
        raise


def _give_back(taken: _Taken) -> None:
    """After a crash (not a refusal): queued again for the sweeper to retry, or given up."""
    with session_scope() as session:
        if taken.tries >= MAX_TRIES:
            _finish(session, taken, state=UploadState.refused, error=GAVE_UP)
        else:
            session.execute(
                update(Upload)
                .where(_still_mine(taken))
                .values(state=UploadState.queued, queued_at=utcnow())
                .execution_options(synchronize_session=False)
            )
