"""Exports prepared by the worker for the exports page, each recorded as a `PreparedExport` row.

The request adds the row (queued) and queues the job after its commit; the job takes the row
(queued → running) before it writes, so of two jobs for one export one writes. If Redis loses
the job, or the worker dies, the sweeper (robocall.exports.scheduled) queues the row again.

The file is written under `<var_dir>/exports/`, handed to the user who asked for it once, then
deleted; an unclaimed file is deleted by the next export prepared after FILE_SECONDS.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from robocall.config import get_settings
from robocall.db import get_engine, session_scope, utcnow
from robocall.exports.models import ExportState, PreparedExport
from robocall.exports.service import ExportError, ExportRequest, get_export, write_export
from robocall.users.models import User
from robocall.users.service import scope_of
from robocall.workers.queues import enqueue_after_commit

log = logging.getLogger(__name__)

FILE_SECONDS = 24 * 3600  # a prepared file (and its row) waits this long for its download
JOB_TIMEOUT = 3600  # seconds rq lets one export run
MAX_TRIES = 3  # an export that crashes this many times is given up
_PROGRESS_EVERY = 0.5  # seconds between progress writes
GAVE_UP = "the export stopped with an error every time it was tried; ask the administrator"


def export_folder() -> Path:
    folder = get_settings().var_dir / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def export_status(token: str, *, db_session: Session) -> dict[str, Any] | None:
    """{state: queued|running|done|failed, name, fmt, unit, day, campaign, rows, user_id,
    error}; None for no such export."""
    export = db_session.scalar(select(PreparedExport).where(PreparedExport.token == token))
    if export is None:
        return None
    return {
        "state": export.state.value,
        "name": export.name,
        "fmt": export.fmt,
        "unit": export.unit_code,
        "day": export.day.isoformat() if export.day else None,
        "campaign": export.campaign_id,
        "rows": export.rows,
        "user_id": export.user_id,
        "error": export.error,
    }


def prepared_file(token: str, *, db_session: Session) -> Path:
    status = export_status(token, db_session=db_session) or {}
    return export_folder() / f"{token}.{status.get('fmt', 'xlsx')}"


def queue_export(
    *,
    db_session: Session,
    user: User,
    name: str,
    fmt: str,
    unit_code: str | None,
    day: dt.date | None,
    campaign_id: int | None = None,
) -> str:
    """Prepare an export in the worker once the caller's transaction commits; its token."""
    kind = get_export(name)
    if fmt not in kind.formats:
        raise ExportError(f"{name}: available as {' or '.join(kind.formats)}, not {fmt}")
    _remove_stale_files()
    token = secrets.token_urlsafe(18)
    now = utcnow()
    db_session.add(
        PreparedExport(
            token=token,
            user_id=user.id,
            name=name,
            fmt=fmt,
            unit_code=unit_code,
            day=day,
            campaign_id=campaign_id,
            state=ExportState.queued,
            created_at=now,
            queued_at=now,
        )
    )
    db_session.flush()
    enqueue_export(db_session, token)
    return token


def enqueue_export(db_session: Session, token: str) -> None:
    """Send the export's job once `db_session` commits (the page, or the sweeper)."""
    enqueue_after_commit(
        db_session, run_export, token, queue="exports", rq_options={"job_timeout": JOB_TIMEOUT}
    )


@dataclass(frozen=True)
class _Taken:
    """An export as a worker took it; `tries` tells this run from a later one."""

    token: str
    tries: int
    user_id: int
    name: str
    fmt: str
    unit_code: str | None
    day: dt.date | None
    campaign_id: int | None


def _take(token: str) -> _Taken | None:
    """Take a queued export (queued → running) in a short transaction of its own; None if
    another job has it, or it is finished. Atomic: of two jobs for one export, one writes."""
    with session_scope() as db_session:
        taken = db_session.execute(
            update(PreparedExport)
            .where(PreparedExport.token == token, PreparedExport.state == ExportState.queued)
            .values(
                state=ExportState.running,
                taken_at=utcnow(),
                tries=PreparedExport.tries + 1,
                rows=0,
            )
            .returning(
                PreparedExport.tries,
                PreparedExport.user_id,
                PreparedExport.name,
                PreparedExport.fmt,
                PreparedExport.unit_code,
                PreparedExport.day,
                PreparedExport.campaign_id,
            )
            .execution_options(synchronize_session=False)
        ).one_or_none()
    if taken is None:
        return None
    return _Taken(token, *taken)


def _still_mine(taken: _Taken) -> ColumnElement[bool]:
    """This run's export, unless the sweeper gave it to another run since (`queued`: put
    back, not yet taken again; this run may still finish it)."""
    return (
        (PreparedExport.token == taken.token)
        & (PreparedExport.tries == taken.tries)
        & PreparedExport.state.in_([ExportState.running, ExportState.queued])
    )


def _finish(taken: _Taken, **values: Any) -> None:
    """Record how the export ended, in a short transaction of its own."""
    with session_scope() as db_session:
        db_session.execute(
            update(PreparedExport)
            .where(_still_mine(taken))
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def _note_progress(taken: _Taken, rows: int) -> None:
    """Write the rows written so far (and that the worker is alive), in its own transaction.

    Not on SQLite: there the export's reading transaction holds the database's one write
    lock while it runs (this one would wait out the busy timeout, then fail), so the page
    sees the count only at the end.
    """
    if get_engine().dialect.name == "sqlite":
        return
    with session_scope() as db_session:
        db_session.execute(
            update(PreparedExport)
            .where(_still_mine(taken), PreparedExport.state == ExportState.running)
            .values(rows=rows, taken_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def run_export(token: str) -> None:
    """rq job: write a queued export to its file, noting progress."""
    taken = _take(token)
    if taken is None:
        return
    last = 0.0
    written = 0

    def progress(rows: int) -> None:
        nonlocal last, written
        written = rows
        if time.monotonic() - last >= _PROGRESS_EVERY:
            last = time.monotonic()
            _note_progress(taken, rows)

    path = export_folder() / f"{token}.{taken.fmt}"
    # A run of its own: one the sweeper wrongly thought dead never writes into this one's.
    partial = path.with_name(f"{path.name}.{taken.tries}.part")
    try:
        with session_scope() as session:
            user = session.get(User, taken.user_id)
            if user is None or not user.is_active:
                raise ExportError("the account that asked for this export is no longer active")
            request = ExportRequest(
                scope=scope_of(db_session=session, user=user),
                unit_code=taken.unit_code or None,
                day=taken.day,
                campaign_id=taken.campaign_id,
            )
            with partial.open("wb") as handle:
                write_export(
                    db_session=session,
                    name=taken.name,
                    fmt=taken.fmt,
                    request=request,
                    target=handle,
                    progress=progress,
                )
        partial.replace(path)
    except ExportError as exc:
        partial.unlink(missing_ok=True)
        _finish(taken, state=ExportState.failed, error=str(exc))
        return
    except Exception:
        partial.unlink(missing_ok=True)
        _give_back(taken)
        raise
    _finish(taken, state=ExportState.done, rows=written, error=None)


def _give_back(taken: _Taken) -> None:
    """After a crash: queued again for the sweeper to retry, or given up."""
    if taken.tries >= MAX_TRIES:
        _finish(taken, state=ExportState.failed, error=GAVE_UP)
    else:
        _finish(taken, state=ExportState.queued, queued_at=utcnow())


def _remove_stale_files() -> None:
    cutoff = time.time() - FILE_SECONDS
    for path in export_folder().iterdir():
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
