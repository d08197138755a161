"""Exports prepared by the worker, with their progress in Redis for the exports page.

The file is written under `<var_dir>/exports/`, handed to the user who asked for it once, then
deleted; an unclaimed file is deleted by the next export prepared after FILE_SECONDS.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from robocall.config import get_settings
from robocall.db import session_scope
from robocall.exports.service import ExportError, ExportRequest, get_export, write_export
from robocall.users.models import User
from robocall.users.service import scope_of
from robocall.workers.connection import get_redis
from robocall.workers.queues import enqueue_after_commit

FILE_SECONDS = 24 * 3600  # a prepared file waits this long for its download
_PROGRESS_EVERY = 0.5  # seconds between progress writes


def _key(token: str) -> str:
    return f"robocall:export:{token}"


def export_folder() -> Path:
    folder = get_settings().var_dir / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _set(token: str, **fields: Any) -> None:
    client = get_redis()
    client.hset(_key(token), mapping={k: "" if v is None else str(v) for k, v in fields.items()})
    client.expire(_key(token), FILE_SECONDS)


def export_status(token: str) -> dict[str, Any] | None:
    """{state: queued|running|done|failed, name, fmt, unit, day, rows, user_id, error}."""
    raw: dict[bytes, bytes] = get_redis().hgetall(_key(token))
    if not raw:
        return None
    status: dict[str, Any] = {k.decode(): v.decode() for k, v in raw.items()}
    for number in ("rows", "user_id"):
        if status.get(number):
            status[number] = int(status[number])
    return status


def prepared_file(token: str) -> Path:
    status = export_status(token) or {}
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
    _set(
        token,
        state="queued",
        name=name,
        fmt=fmt,
        unit=unit_code,
        day=day.isoformat() if day else None,
        campaign=campaign_id,
        rows=0,
        user_id=user.id,
    )
    enqueue_after_commit(
        db_session, run_export, token, queue="exports", rq_options={"job_timeout": 3600}
    )
    return token


def run_export(token: str) -> None:
    """rq job: write a queued export to its file, noting progress."""
    status = export_status(token)
    if status is None:
        return
    _set(token, state="running")
    last = 0.0

    def progress(rows: int) -> None:
        nonlocal last
        if time.monotonic() - last >= _PROGRESS_EVERY:
            last = time.monotonic()
            _set(token, rows=rows)

    path = export_folder() / f"{token}.{status['fmt']}"
    partial = path.with_name(path.name + ".part")
    try:
        with session_scope() as session:
            user = session.get(User, status["user_id"])
            if user is None or not user.is_active:
                raise ExportError("the account that asked for this export is no longer active")
            request = ExportRequest(
                scope=scope_of(db_session=session, user=user),
                unit_code=status["unit"] or None,
                day=dt.date.fromisoformat(status["day"]) if status["day"] else None,
                campaign_id=status.get("campaign"),
            )
            with partial.open("wb") as handle:
                write_export(
                    db_session=session,
                    name=status["name"],
                    fmt=status["fmt"],
                    request=request,
                    target=handle,
                    progress=progress,
                )
        partial.replace(path)
    except ExportError as exc:
        partial.unlink(missing_ok=True)
        _set(token, state="failed", error=str(exc))
        return
    _set(token, state="done")


def _remove_stale_files() -> None:
    cutoff = time.time() - FILE_SECONDS
    for path in export_folder().iterdir():
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
