"""rq queues, and enqueueing jobs only after the commit that created their rows."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rq import Queue
from sqlalchemy import event
from sqlalchemy.orm import Session

from robocall.workers.connection import REDIS_DOWN, get_redis

log = logging.getLogger(__name__)

# Highest priority first: a worker listening on all of them serves calls before exports.
QUEUE_NAMES = ("calls", "sms", "default", "imports", "exports")


def get_queue(name: str = "default") -> Queue:
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=get_redis())


# A job is its function, or the function's dotted path ("robocall.hotline.tasks.send_…"):
# a service names the job its own tasks module runs, without importing that module back.
Job = Callable[..., Any] | str


def job_name(func: Job) -> str:
    return func if isinstance(func, str) else func.__name__


@dataclass
class PendingJob:
    queue: str
    func: Job
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


_PENDING = "robocall_pending_jobs"


def enqueue_after_commit(
    db_session: Session,
    func: Job,
    *args: Any,
    queue: str = "default",
    rq_options: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Send a job to rq once `db_session` commits; drop it if the session rolls back."""
    pending: list[PendingJob] = db_session.info.setdefault(_PENDING, [])
    pending.append(PendingJob(queue, func, args, kwargs, rq_options or {}))


@event.listens_for(Session, "after_commit")
def _send_pending(db_session: Session) -> None:
    """Send the committed unit's jobs. Redis unreachable: the rows are committed all the same.

    The client has already retried with backoff; what is still unsent is logged, not raised,
    because the database is the truth: the campaign sweeper queues again the calls and SMS
    whose jobs never ran.
    """
    pending: list[PendingJob] = db_session.info.pop(_PENDING, [])
    for sent, job in enumerate(pending):
        try:
            func: Any = job.func  # rq takes a function or its dotted path alike
            get_queue(job.queue).enqueue(func, *job.args, **job.kwargs, **job.options)
        except REDIS_DOWN as exc:
            unsent = sorted({f"{j.queue}:{job_name(j.func)}" for j in pending[sent:]})
            log.warning(
                "Redis unreachable: %d job(s) not queued (%s): %s",
                len(pending) - sent,
                ", ".join(unsent),
                exc,
            )
            return


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(db_session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        db_session.info.pop(_PENDING, None)
