"""`robocall demo`: every process in one, on the embedded defaults."""

from __future__ import annotations

import threading
import time

import httpx
import uvicorn
from rich.console import Console

from robocall.db import session_scope
from robocall.units.service import ensure_sample_units
from robocall.workers.connection import get_redis
from robocall.workers.processes import bootstrap, make_worker, stop_on_signals
from robocall.workers.scheduler import Scheduler


def run_demo(*, once: bool, port: int, console: Console) -> int:
    """Start web, worker and scheduler in this process; with `once`, check and stop."""
    bootstrap()
    with session_scope() as session:
        ensure_sample_units(db_session=session)
    stop = threading.Event()
    config = uvicorn.Config(
        "robocall.web.app:create_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    worker = make_worker(threaded=True)
    threads = [
        threading.Thread(target=server.run, name="web", daemon=True),
        threading.Thread(
            target=lambda: worker.work(burst=False, logging_level="WARNING"),
            name="worker",
            daemon=True,
        ),
        threading.Thread(target=Scheduler(get_redis(), stop).run, name="scheduler", daemon=True),
    ]
    with stop_on_signals(stop):
        for thread in threads:
            thread.start()
        url = f"http://127.0.0.1:{port}"
        healthy = _wait_healthy(url, stop)
        if healthy:
            console.print(f"robocall demo: web UI at {url}  (Ctrl-C to stop)")
        if not once and healthy:
            stop.wait()
        server.should_exit = True
        # The worker thread may sit in a blocking dequeue; it is a daemon and ends with us.
        worker._stop_requested = True
        stop.set()
        for thread in threads:
            if thread.name != "worker":
                thread.join(timeout=5)
    return 0 if healthy else 1


def _wait_healthy(url: str, stop: threading.Event, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not stop.is_set():
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False
