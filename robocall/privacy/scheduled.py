"""The daily retention run: anonymise what is past the retention period, once a local day."""

from __future__ import annotations

import logging

import redis

from robocall.config import get_settings
from robocall.db import session_scope, utcnow
from robocall.privacy.service import DEFAULT_RETENTION_DAYS, anonymise_expired
from robocall.workers.periodic import PeriodicJob

log = logging.getLogger(__name__)

JOB_NAME = "privacy_retention"
# Seconds between checks. The run itself happens once a local day: an interval of a day
# would never come round on a scheduler restarted more often than that.
CHECK_EVERY = 3600.0
_DONE_KEY = "robocall:privacy:retention:done:{day}"  # set once the day's run committed
_LOCK_KEY = "robocall:privacy:retention:lock"
_LOCK_SECONDS = 3600  # longer than a run; a crashed run's lock expires by itself


def configured_retention_days() -> int:
    """ROBOCALL_RETENTION_DAYS, or the default while the setting does not exist."""
    return int(getattr(get_settings(), "retention_days", DEFAULT_RETENTION_DAYS))


def anonymise_expired_job(client: redis.Redis, identity: str) -> None:
    """Periodic job: the day's anonymisation run, if not done yet today (`robocall scheduler
    --eager privacy_retention` runs it again regardless). An overlapping run is skipped."""
    settings = get_settings()
    now = utcnow()
    done_key = _DONE_KEY.format(day=now.astimezone(settings.zone).date().isoformat())
    if identity != "eager" and client.exists(done_key):
        return
    if not client.set(_LOCK_KEY, identity, nx=True, ex=_LOCK_SECONDS):
        log.info("privacy retention: another run is in progress; skipped")
        return
    try:
        days = configured_retention_days()
        with session_scope() as db_session:
            counts = anonymise_expired(db_session=db_session, now=now, retention_days=days)
        client.set(done_key, identity, ex=2 * 86400)
        log.info("privacy retention (%d days): %s", days, counts.as_dict())
    finally:
        if client.get(_LOCK_KEY) == identity.encode():
            client.delete(_LOCK_KEY)


JOBS = (
    PeriodicJob(
        JOB_NAME,
        CHECK_EVERY,
        anonymise_expired_job,
        "anonymise personal data past the retention period (once a local day)",
    ),
)
