"""`robocall demo`: a sample F1 list called by simulated residents, start to finish, in one process.

It imports a sample list made by the seeded generator in robocall/sampledata, dated from today
(everyone last exposed within the past 10 days, so they are under monitoring), runs the
f1_tracing_call campaign against the bundled simulated residents with compressed time (the
simulator runs fast, retries come after seconds, the window is the whole day), shows live
progress, serves the web UI (unless --once), and writes the officials' workbook at the end.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from rich.console import Console

from robocall.campaigns.console import CampaignProgress, summary_lines
from robocall.campaigns.service import create_campaign, start_campaign
from robocall.config import get_settings
from robocall.db import session_scope, utcnow
from robocall.importers.service import import_path
from robocall.processes import bootstrap, stop_on_signals
from robocall.runner import (
    campaign_progress,
    is_over,
    start_in_process_simulator,
    use_simulator,
    worker_threads,
)
from robocall.sampledata.generate import PERSONAS_FILE, generate
from robocall.units.service import ensure_sample_units
from robocall.workers.connection import get_redis
from robocall.workers.scheduler import Scheduler

DISTRICT = "769"  # the sample district (robocall/units/sample_units.csv)
TIME_FACTOR = 0.01  # simulated rings and answers run a hundred times faster than life
RETRY_DELAY = 0.5  # seconds, in place of 15 min – 2 h
DEMO_WINDOW = "00:00-24:00"  # the demo runs at any hour; real campaigns keep decent hours
DEMO_CPS = 50.0
DEMO_CONCURRENT = 30
DEMO_WORKERS = 2  # rq workers in threads: calls, SMS, imports, exports, notifications
PROGRESS_EVERY = 0.2  # seconds between looks at the campaign's progress


def run_demo(*, once: bool, port: int, console: Console) -> int:
    """Import, call, show progress, export; with `once`, exit when the campaign ends.

    For as long as it runs, the demo is the whole of robocall: the scheduler's periodic jobs
    and rq workers on every queue run in threads beside the web UI, so an upload or an export
    asked for in the browser after the demo's own campaign has ended is done as well.
    """
    # Progress is shown live; the log keeps to warnings unless asked for more.
    os.environ.setdefault("ROBOCALL_LOG_LEVEL", "WARNING")
    use_simulator(personas=PERSONAS_FILE, time_factor=TIME_FACTOR, cps=DEMO_CPS * 2)
    bootstrap()
    start_in_process_simulator()
    stop = threading.Event()
    with stop_on_signals(stop), worker_threads(DEMO_WORKERS), _scheduler_running():
        server: uvicorn.Server | None = None
        if not once:
            server = _serve(port)
            if not _wait_healthy(f"http://127.0.0.1:{port}", stop):
                console.print("[red]error:[/red] the web UI did not start")
                return 1
            console.print(f"robocall demo: web UI at http://127.0.0.1:{port}  (Ctrl-C to stop)")
        try:
            campaign_id = _prepare_campaign(console)
            final = _follow(campaign_id, stop, console)
            for line in summary_lines(final):
                console.print(line, highlight=False)
            if final["status"] != "completed":
                return 130
            path = _export(campaign_id)
            console.print(f"Workbook: {path.resolve()}", highlight=False, soft_wrap=True)
            if server is not None:
                console.print("serving the web UI until Ctrl-C", highlight=False)
                stop.wait()
        finally:
            if server is not None:
                server.should_exit = True
    return 0


@contextmanager
def _scheduler_running() -> Iterator[None]:
    """The scheduler (campaign ticks, sweepers, every periodic job) in a thread."""
    stop = threading.Event()
    thread = threading.Thread(
        target=Scheduler(get_redis(), stop).run, name="scheduler", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def _follow(campaign_id: int, stop: threading.Event, console: Console) -> dict[str, Any]:
    """Show the campaign's progress until it is over (or Ctrl-C); its last progress."""
    bar = CampaignProgress(console)
    with bar:
        task = bar.add_task(f"campaign {campaign_id}", total=1)
        while True:
            current = campaign_progress(campaign_id)
            bar.show(task, current)
            if is_over(current) or stop.wait(PROGRESS_EVERY):
                return current


def _prepare_campaign(console: Console) -> int:
    with session_scope() as db_session:
        ensure_sample_units(db_session=db_session)
    with session_scope() as db_session:
        today = utcnow().astimezone(get_settings().zone).date()
        list_file, _ = generate(get_settings().var_dir / "sample" / today.isoformat(), today=today)
        result = import_path(db_session=db_session, path=list_file, unit_code=DISTRICT)
        batch_id = result.batch_id or result.already_imported
    console.print(
        f"Sample list: {result.rows} rows, {result.created} new contacts"
        + (f" (already imported as batch {batch_id})" if result.already_imported else ""),
        highlight=False,
    )
    with session_scope() as db_session:
        campaign = create_campaign(
            db_session=db_session,
            preset="f1_tracing_call",
            name="Demo: F1 tracing",
            unit_code=DISTRICT,
            batch_ids=[batch_id] if batch_id else None,
            window=DEMO_WINDOW,
            cps=DEMO_CPS,
            max_concurrent=DEMO_CONCURRENT,
            retry_delay_seconds=RETRY_DELAY,
            created_by="demo",
        )
        start_campaign(db_session=db_session, campaign_id=campaign.id)
        campaign_id = campaign.id
    console.print(f"Campaign {campaign_id} (F1 tracing calls) started", highlight=False)
    return campaign_id


def _export(campaign_id: int) -> Path:
    """The officials' workbook (the same as `robocall export campaign ID`)."""
    from robocall.exports.service import ExportRequest, write_export_file
    from robocall.users.service import Scope

    path = get_settings().var_dir / "exports" / f"campaign-{campaign_id}-results.xlsx"
    path.parent.mkdir(parents=True, exist_ok=True)
    with session_scope() as db_session:
        request = ExportRequest(scope=Scope(None), campaign_id=campaign_id)
        write_export_file(db_session=db_session, name="campaign", path=path, request=request)
    return path


def _serve(port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        "robocall.web.app:create_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, name="web", daemon=True).start()
    return server


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
