"""The exports' periodic job: no export asked for is lost when Redis or a worker is."""

from __future__ import annotations

import datetime as dt

import redis
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from robocall.db import session_scope, utcnow
from robocall.exports.models import ExportState, PreparedExport
from robocall.exports.tasks import FILE_SECONDS, GAVE_UP, MAX_TRIES, enqueue_export
from robocall.workers.periodic import PeriodicJob

SWEEP_SECONDS = 15.0  # how often the sweeper runs
LOST_AFTER = dt.timedelta(seconds=30)  # queued and not taken this long: its job was lost
# Running and silent this long: its worker died. A worker notes its progress (on PostgreSQL)
# every half second; an export is only read, so one run too many costs time, not data.
RUNNING_LOST_AFTER = dt.timedelta(minutes=10)


def exports_sweeper(_client: redis.Redis, _identity: str, now: dt.datetime | None = None) -> None:
    """Queue again the exports whose job was lost or whose worker died; delete rows past
    FILE_SECONDS. Only enqueues: the jobs write."""
    with session_scope() as db_session:
        for token in sweep_exports(db_session=db_session, now=now or utcnow()):
            enqueue_export(db_session, token)


def sweep_exports(*, db_session: Session, now: dt.datetime) -> list[str]:
    """The tokens of the exports to queue again (marked queued at `now`); exports whose
    worker died MAX_TRIES times failed; old rows deleted."""
    dead = (PreparedExport.state == ExportState.running) & (
        PreparedExport.taken_at <= now - RUNNING_LOST_AFTER
    )
    db_session.execute(
        update(PreparedExport)
        .where(dead, PreparedExport.tries >= MAX_TRIES)
        .values(state=ExportState.failed, error=GAVE_UP)
        .execution_options(synchronize_session=False)
    )
    revived = db_session.scalars(
        update(PreparedExport)
        .where(dead, PreparedExport.tries < MAX_TRIES)
        .values(state=ExportState.queued, queued_at=now)
        .returning(PreparedExport.token)
        .execution_options(synchronize_session=False)
    ).all()
    # Marked queued anew as they are sent again, so that a job waiting behind a long export
    # in a busy queue is sent again once per LOST_AFTER, not at every sweep.
    lost = db_session.scalars(
        update(PreparedExport)
        .where(
            PreparedExport.state == ExportState.queued,
            PreparedExport.queued_at <= now - LOST_AFTER,
        )
        .values(queued_at=now)
        .returning(PreparedExport.token)
        .execution_options(synchronize_session=False)
    ).all()
    # The files themselves go by their age (tasks._remove_stale_files), on the worker's disk.
    db_session.execute(
        delete(PreparedExport)
        .where(
            PreparedExport.state.in_([ExportState.done, ExportState.failed]),
            PreparedExport.created_at <= now - dt.timedelta(seconds=FILE_SECONDS),
        )
        .execution_options(synchronize_session=False)
    )
    return [*revived, *lost]


JOBS = (
    PeriodicJob(
        "exports_sweeper",
        SWEEP_SECONDS,
        exports_sweeper,
        "queue again prepared exports whose job or worker was lost; forget old ones",
    ),
)
