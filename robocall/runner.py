"""`campaign run --until-done`: the scheduler's tick and a worker in this process.

For small set-ups, tests and the demo. With the simulator as provider and no simulator URL
configured, the provider is an in-process simulator (with the given personas) that reaches the
app's webhooks in-process, so nothing else needs to run.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from robocall.campaigns.dispatch import sweep, tick
from robocall.campaigns.models import Campaign, CampaignStatus
from robocall.campaigns.results import progress
from robocall.campaigns.tasks import finish_dialling
from robocall.config import get_settings, reset_settings_cache
from robocall.db import session_scope
from robocall.processes import bootstrap, make_worker
from robocall.workers.connection import REDIS_DOWN

TICK_EVERY = 0.2  # seconds; the rate limiter spaces calls, ticking often keeps the queue fed
SWEEP_EVERY = 5.0  # seconds
WORKER_IDLE = 0.02  # seconds a worker waits when the queues are empty
REDIS_BACKOFF = 0.5  # seconds a worker waits before trying an unreachable Redis again

log = logging.getLogger(__name__)


def use_simulator(
    *, personas: Path | None = None, time_factor: float | None = None, cps: float | None = None
) -> None:
    """Point this process's in-process simulator at these personas and speeds."""
    from robocall.runtime import stop_embedded_simulator
    from robocall.telephony.provider import reset_provider

    if personas is not None:
        os.environ["ROBOCALL_SIMULATOR_PERSONAS"] = str(personas)
    if time_factor is not None:
        os.environ["ROBOCALL_SIMULATOR_TIME_FACTOR"] = str(time_factor)
    if cps is not None:
        os.environ["ROBOCALL_SIMULATOR_CPS"] = str(cps)
        os.environ.setdefault("ROBOCALL_SIMULATOR_MAX_CONCURRENT", "200")
    reset_settings_cache()
    stop_embedded_simulator()
    reset_provider()


@contextmanager
def worker_threads(count: int = 2) -> Iterator[None]:
    """`count` rq workers on every queue, in threads of this process, until the block ends."""
    finished = threading.Event()

    def work() -> None:
        try:
            work_until_finished()
        finally:
            finish_dialling()  # this worker's dialling threads

    def work_until_finished() -> None:
        # Burst runs in a loop: the worker returns whenever the queues are empty, so it
        # stops promptly (and cleanly) when the block ends. Redis unreachable: a new worker
        # once it answers again (the jobs it lost are queued again by the sweeper).
        worker = None
        while not finished.is_set():
            try:
                worker = worker or make_worker(threaded=True)
                worker.work(burst=True, logging_level="WARNING")
            except REDIS_DOWN as exc:
                log.warning("worker: Redis unreachable, trying again (%s)", exc)
                worker = None
                finished.wait(REDIS_BACKOFF)
                continue
            except Exception:
                # Whatever else rq trips on, this thread must keep working.
                log.exception("worker failed; starting a new one")
                worker = None
                finished.wait(REDIS_BACKOFF)
                continue
            finished.wait(WORKER_IDLE)

    threads = [threading.Thread(target=work, name=f"worker-{i}", daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        finished.set()
        for thread in threads:
            thread.join(timeout=30)


def start_in_process_simulator() -> None:
    """Start the in-process simulator before the first call, when it is the provider."""
    settings = get_settings()
    if settings.telephony == "simulator" and not settings.simulator_url:
        from robocall.telephony.provider import get_provider

        get_provider()


def campaign_progress(campaign_id: int) -> dict[str, Any]:
    """The campaign's progress now (raises ValueError for an unknown campaign)."""
    with session_scope() as db_session:
        campaign = db_session.get(Campaign, campaign_id)
        if campaign is None:
            raise ValueError(f"no campaign {campaign_id}")
        return progress(db_session=db_session, campaign=campaign)


def is_over(current: dict[str, Any]) -> bool:
    return current["status"] in (CampaignStatus.completed.value, CampaignStatus.cancelled.value)


def run_until_done(
    *,
    campaign_id: int,
    stop: threading.Event | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    timeout: float | None = None,
    workers: int = 2,
) -> dict[str, Any]:
    """Tick, work and sweep until the campaign is completed or cancelled; its last progress."""
    bootstrap()
    start_in_process_simulator()
    stop = stop or threading.Event()
    deadline = time.monotonic() + timeout if timeout else None
    last_sweep = time.monotonic()
    with worker_threads(workers):
        while True:
            try:
                tick()
                if time.monotonic() - last_sweep > SWEEP_EVERY:
                    sweep()
                    last_sweep = time.monotonic()
            except REDIS_DOWN as exc:
                log.warning("scheduler tick: Redis unreachable, trying again (%s)", exc)
            current = campaign_progress(campaign_id)
            if on_progress is not None:
                on_progress(current)
            if is_over(current) or stop.is_set():
                return current
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"campaign {campaign_id} not done in {timeout} s")
            stop.wait(TICK_EVERY)
