"""Starting and stopping robocall's long-running processes cleanly."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from rq import SimpleWorker
from rq.exceptions import StopRequested
from rq.timeouts import TimerDeathPenalty

from robocall.config import InsecureSettings, get_settings, require_secrets
from robocall.kit.heap import settle_heap
from robocall.kit.masking import configure_logging
from robocall.kit.stopping import stop_signal_received
from robocall.schema import ensure_schema
from robocall.workers.connection import REDIS_DOWN, get_redis
from robocall.workers.health import start_health_server
from robocall.workers.queues import QUEUE_NAMES, get_queue
from robocall.workers.scheduler import Scheduler

log = logging.getLogger(__name__)

REDIS_BACKOFF = (0.5, 10.0)  # seconds before a worker tries an unreachable Redis again: first, most


def bootstrap() -> None:
    """Secrets, logging, schema (migrated or refused), Redis reachable: before any process
    runs. A production-like set-up with an unset or known secret stops here, in one line."""
    try:
        require_secrets(get_settings())
    except InsecureSettings as refused:
        raise SystemExit(f"error: {refused}") from None
    configure_logging(get_settings().log_level)
    ensure_schema()
    get_redis().ping()
    from robocall.runtime import wire

    wire()


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C or SIGTERM sets `stop`; a second one exits at once."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise SystemExit(130)
        log.info("stopping (%s)", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    early = stop_signal_received()
    if early is not None:  # it came before this handler, and its exception may have been lost
        handler(early, None)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


class ThreadWorker(SimpleWorker):
    """An rq worker that can run in a thread (demo, `campaign run`).

    No signal handlers, and no command channel: the process that owns the thread stops it, so
    no pub/sub thread is started on every burst (nor left behind when Redis goes away).
    """

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        return

    def subscribe(self) -> None:
        return

    def unsubscribe(self) -> None:
        return


def warm_up() -> None:
    """Import what the jobs need before the first one comes: the first call of a campaign
    would otherwise wait about a second for the provider's client modules to load."""
    from robocall.campaigns import tasks  # noqa: F401
    from robocall.telephony.provider import load_provider_modules

    load_provider_modules()


def make_worker(queues: list[str] | None = None, *, threaded: bool = False) -> SimpleWorker:
    names = queues or list(QUEUE_NAMES)
    worker_class = ThreadWorker if threaded else SimpleWorker
    return worker_class([get_queue(n) for n in names], connection=get_redis())


def run_worker(queues: list[str] | None, health_port: int | None, burst: bool = False) -> None:
    """Work on the queues until Ctrl-C/SIGTERM (rq's warm shutdown)."""
    bootstrap()
    warm_up()
    settle_heap()
    if health_port:
        start_health_server(health_port, "worker")
    backoff = REDIS_BACKOFF[0]
    try:
        while True:
            worker: SimpleWorker | None = None
            started = time.monotonic()
            if stop_signal_received() is not None:  # asked before rq's own handlers were set
                raise StopRequested()
            try:
                worker = make_worker(queues)
                worker.work(burst=burst, logging_level=get_settings().log_level)
                return
            except REDIS_DOWN as exc:
                # rq retries a lost connection only while waiting for a job; anywhere else it
                # gives up. Start a new worker once Redis answers (a restart lost the jobs it
                # held; the campaign sweeper queues those calls again).
                if time.monotonic() - started > 60:
                    backoff = REDIS_BACKOFF[0]
                log.warning("worker: Redis unreachable, again in %.1f s (%s)", backoff, exc)
                _close_command_channel(worker)
                time.sleep(backoff)
                backoff = min(backoff * 2, REDIS_BACKOFF[1])
    except StopRequested:
        log.info("worker stopped")
    finally:
        from robocall.campaigns.tasks import finish_dialling

        finish_dialling()  # the calls of its last job still being dialled


def _close_command_channel(worker: SimpleWorker | None) -> None:
    """Stop the pub/sub thread of a worker that died with Redis (its teardown could not)."""
    thread = getattr(worker, "pubsub_thread", None)
    if thread is not None:
        thread.stop()


def run_scheduler(health_port: int | None, stop: threading.Event | None = None) -> None:
    """Run periodic jobs while this scheduler holds the leader lease."""
    bootstrap()
    settle_heap()
    stop = stop or threading.Event()
    if health_port:
        start_health_server(health_port, "scheduler")
    with stop_on_signals(stop):
        Scheduler(get_redis(), stop).run()
    log.info("scheduler stopped")


def run_serve(host: str, port: int, workers: int, reload: bool = False) -> None:
    """Serve the web app with uvicorn (which handles Ctrl-C/SIGTERM itself)."""
    import uvicorn

    bootstrap()
    options: dict[str, Any] = {"host": host, "port": port, "timeout_graceful_shutdown": 3}
    if workers > 1:
        options["workers"] = workers
    uvicorn.run(
        "robocall.runtime:served_app",
        factory=True,
        log_level=get_settings().log_level.lower(),
        reload=reload,
        # The client address is read by robocall (ROBOCALL_TRUSTED_PROXIES), not by uvicorn.
        proxy_headers=False,
        **options,
    )
