"""The hotline's periodic job: no urgent alert is lost when Redis or a worker is."""

from __future__ import annotations

import redis

from robocall.db import session_scope, utcnow
from robocall.hotline.service import alerts_stuck_sending, alerts_to_send_again
from robocall.workers.periodic import PeriodicJob
from robocall.workers.queues import enqueue_after_commit

SWEEP_SECONDS = 10.0  # an alert whose job was lost goes out within about half a minute


def alerts_sweeper(_client: redis.Redis, _identity: str) -> None:
    """Queue again the alerts whose job was lost, and have the ones a dead worker held
    checked with the provider. Only enqueues: the jobs do the work."""
    from robocall.hotline.tasks import recover_alert, send_report_notification

    now = utcnow()
    with session_scope() as db_session:
        for notification_id in alerts_to_send_again(db_session=db_session, now=now):
            enqueue_after_commit(db_session, send_report_notification, notification_id, queue="sms")
        for notification_id in alerts_stuck_sending(db_session=db_session, now=now):
            enqueue_after_commit(db_session, recover_alert, notification_id, queue="sms")


JOBS = (
    PeriodicJob(
        "alerts_sweeper",
        SWEEP_SECONDS,
        alerts_sweeper,
        "queue again duty alerts whose job was lost; check those a dead worker held",
    ),
)
