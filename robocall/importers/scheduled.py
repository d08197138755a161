"""The uploads' periodic job: no confirmed upload is lost when Redis or a worker is."""

from __future__ import annotations

import datetime as dt

import redis
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from robocall.db import session_scope, utcnow
from robocall.importers.models import Upload, UploadState
from robocall.importers.tasks import GAVE_UP, MAX_TRIES, STATUS_SECONDS, enqueue_upload
from robocall.workers.periodic import PeriodicJob

SWEEP_SECONDS = 15.0  # how often the sweeper runs
LOST_AFTER = dt.timedelta(seconds=30)  # queued and not taken this long: its job was lost
# Running and silent this long: its worker died. Generous: a list of the most rows allowed
# takes a few minutes; a worker notes its progress (on PostgreSQL) every half second, and
# a run that was only slow, not dead, is rolled back if another one took the upload.
RUNNING_LOST_AFTER = dt.timedelta(minutes=10)


def uploads_sweeper(_client: redis.Redis, _identity: str, now: dt.datetime | None = None) -> None:
    """Queue again the confirmed uploads whose job was lost or whose worker died; delete
    the previews never confirmed (with their file) and old finished rows. Only enqueues: the
    jobs import."""
    with session_scope() as db_session:
        for token in sweep_uploads(db_session=db_session, now=now or utcnow()):
            enqueue_upload(db_session, token)


def sweep_uploads(*, db_session: Session, now: dt.datetime) -> list[str]:
    """The tokens of the uploads to queue again (marked queued at `now`); uploads whose
    worker died MAX_TRIES times given up; expired rows deleted."""
    dead = (Upload.state == UploadState.running) & (Upload.taken_at <= now - RUNNING_LOST_AFTER)
    db_session.execute(
        update(Upload)
        .where(dead, Upload.tries >= MAX_TRIES)
        .values(
            state=UploadState.refused,
            error=GAVE_UP,
            content=None,
            expires_at=now + dt.timedelta(seconds=STATUS_SECONDS),
        )
        .execution_options(synchronize_session=False)
    )
    revived = db_session.scalars(
        update(Upload)
        .where(dead, Upload.tries < MAX_TRIES)
        .values(state=UploadState.queued, queued_at=now)
        .returning(Upload.token)
        .execution_options(synchronize_session=False)
    ).all()
    # Marked queued anew as they are sent again, so that a job waiting behind a long import
    # in a busy queue is sent again once per LOST_AFTER, not at every sweep.
    lost = db_session.scalars(
        update(Upload)
        .where(Upload.state == UploadState.queued, Upload.queued_at <= now - LOST_AFTER)
        .values(queued_at=now)
        .returning(Upload.token)
        .execution_options(synchronize_session=False)
    ).all()
    db_session.execute(
        delete(Upload)
        .where(
            Upload.state.in_([UploadState.previewed, UploadState.done, UploadState.refused]),
            Upload.expires_at <= now,
        )
        .execution_options(synchronize_session=False)
    )
    return [*revived, *lost]


JOBS = (
    PeriodicJob(
        "uploads_sweeper",
        SWEEP_SECONDS,
        uploads_sweeper,
        "queue again confirmed uploads whose job or worker was lost; delete expired previews",
    ),
)
