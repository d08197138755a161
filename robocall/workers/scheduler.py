"""The scheduler process: periodic jobs, run only by the one scheduler holding the lease."""

from __future__ import annotations

import logging
import threading

import redis
from apscheduler.schedulers.background import BackgroundScheduler

from robocall.workers.connection import REDIS_DOWN
from robocall.workers.leader import LeaderLease
from robocall.workers.periodic import PeriodicJob, registered

log = logging.getLogger(__name__)

RENEW_EVERY = 2.0  # seconds between lease renewals (the lease lasts 10 s)
STANDBY_POLL = 1.0  # seconds between a stand-by's attempts to take the lease
REDIS_RETRY = 1.0  # seconds between attempts to reach an unreachable Redis


class _SkippedRunIsExpected(logging.Filter):
    """A periodic job still running when it is due again is skipped (one instance at a time,
    by design): APScheduler's warning about it is no news, so it is logged at debug level."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "maximum number of running instances reached" in record.getMessage():
            log.debug("%s", record.getMessage())
            return False
        return True


_SKIPPED_RUNS = _SkippedRunIsExpected()


class Scheduler:
    """Runs registered periodic jobs while it holds the leader lease."""

    def __init__(self, client: redis.Redis, stop: threading.Event) -> None:
        self.client = client
        self.stop = stop
        self.lease = LeaderLease(client)
        self._aps: BackgroundScheduler | None = None

    def _guarded(self, job: PeriodicJob) -> None:
        if not self.lease.held or self.stop.is_set():
            return
        try:
            job.func(self.client, self.lease.identity)
        except REDIS_DOWN as exc:
            log.warning("periodic job %s: Redis unreachable (%s)", job.name, exc)
        except Exception:
            log.exception("periodic job %s failed", job.name)

    def _start_jobs(self) -> None:
        aps_log = logging.getLogger("apscheduler.scheduler")
        if _SKIPPED_RUNS not in aps_log.filters:
            aps_log.addFilter(_SKIPPED_RUNS)
        aps = BackgroundScheduler(timezone="UTC")
        for job in registered().values():
            aps.add_job(
                self._guarded,
                "interval",
                seconds=job.seconds,
                args=[job],
                id=job.name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
            )
        aps.start()
        self._aps = aps

    def _stop_jobs(self) -> None:
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None

    def run(self) -> None:
        """Stand by until leader, run jobs while leader, until `stop` is set."""
        announced_standby = False
        try:
            while not self.stop.is_set():
                try:
                    leading = self.lease.try_acquire()
                    holder = None if leading or announced_standby else self.lease.holder()
                except REDIS_DOWN as exc:
                    # The lease cannot be renewed, so another scheduler may lead once Redis is
                    # back (a restart forgot the lease): pause the jobs until it answers.
                    if self._aps is not None:
                        log.warning("scheduler %s pauses its jobs", self.lease.identity)
                        self._stop_jobs()
                    self.lease.held = False
                    log.warning("scheduler: Redis unreachable, trying again (%s)", exc)
                    self.stop.wait(REDIS_RETRY)
                    continue
                if leading:
                    if self._aps is None:
                        log.info("scheduler %s is active", self.lease.identity)
                        announced_standby = False
                        self._start_jobs()
                    self.stop.wait(RENEW_EVERY)
                else:
                    if self._aps is not None:
                        log.warning("scheduler %s lost the lease; standing by", self.lease.identity)
                        self._stop_jobs()
                    if not announced_standby:
                        log.info(
                            "scheduler %s standing by (active: %s)", self.lease.identity, holder
                        )
                        announced_standby = True
                    self.stop.wait(STANDBY_POLL)
        finally:
            self._stop_jobs()
            if self.lease.held:
                try:
                    self.lease.release()
                except REDIS_DOWN:
                    pass  # the lease expires by itself


def run_eager(client: redis.Redis, name: str) -> None:
    """Run one periodic job now, once, in this process."""
    jobs = registered()
    if name not in jobs:
        raise KeyError(name)
    jobs[name].func(client, "eager")
