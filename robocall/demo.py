"""`robocall demo`: a sample F1 list called by simulated residents, start to finish, in one process.

It imports the bundled sample list (robocall/sampledata, made by its seeded generator), runs the
f1_tracing_call campaign against the bundled simulated residents with compressed time (the
simulator runs fast, retries come after seconds, the window is the whole day), shows live
progress, serves the web UI (unless --once), and writes the officials' workbook at the end.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from rich.console import Console

from robocall.campaigns.commands import describe, live_progress
from robocall.campaigns.runner import run_until_done, use_simulator
from robocall.campaigns.service import create_campaign, start_campaign
from robocall.config import get_settings
from robocall.db import session_scope
from robocall.importers.service import import_path
from robocall.sampledata.generate import LIST_FILE, PERSONAS_FILE
from robocall.units.service import ensure_sample_units
from robocall.workers.processes import bootstrap, stop_on_signals

DISTRICT = "769"  # the sample district (robocall/units/sample_units.csv)
TIME_FACTOR = 0.01  # simulated rings and answers run a hundred times faster than life
RETRY_DELAY = 0.5  # seconds, in place of 15 min – 2 h
DEMO_WINDOW = "00:00-24:00"  # the demo runs at any hour; real campaigns keep decent hours
DEMO_CPS = 50.0
DEMO_CONCURRENT = 30


def run_demo(*, once: bool, port: int, console: Console) -> int:
    """Import, call, show progress, export; with `once`, exit when the campaign ends."""
    # Progress is shown live; the log keeps to warnings unless asked for more.
    os.environ.setdefault("ROBOCALL_LOG_LEVEL", "WARNING")
    use_simulator(personas=PERSONAS_FILE, time_factor=TIME_FACTOR, cps=DEMO_CPS * 2)
    bootstrap()
    stop = threading.Event()
    server: uvicorn.Server | None = None
    with stop_on_signals(stop):
        if not once:
            server = _serve(port)
            if not _wait_healthy(f"http://127.0.0.1:{port}", stop):
                console.print("[red]error:[/red] the web UI did not start")
                return 1
            console.print(f"robocall demo: web UI at http://127.0.0.1:{port}  (Ctrl-C to stop)")
        campaign_id = _prepare_campaign(console)
        bar, _ = live_progress(console)
        with bar:
            task = bar.add_task("", total=1, cid=campaign_id, line="")

            def show(current: dict[str, object]) -> None:
                bar.update(
                    task,
                    total=int(current["targets"] or 1),  # type: ignore[call-overload]
                    completed=int(current["done"]),  # type: ignore[call-overload]
                    line=describe(current),
                )

            final = run_until_done(campaign_id=campaign_id, stop=stop, on_progress=show)
        console.print(describe(final), highlight=False)
        if final["status"] != "completed":
            return 130
        path = _export(campaign_id)
        console.print(f"export: {path}", highlight=False)
        print(path.resolve(), flush=True)
        if server is not None:
            console.print("serving the web UI until Ctrl-C")
            stop.wait()
            server.should_exit = True
    return 0


def _prepare_campaign(console: Console) -> int:
    with session_scope() as db_session:
        ensure_sample_units(db_session=db_session)
    with session_scope() as db_session:
        result = import_path(db_session=db_session, path=LIST_FILE, unit_code=DISTRICT)
        batch_id = result.batch_id or result.already_imported
    console.print(
        f"sample list: {result.rows} rows, {result.created} new contacts"
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
    console.print(f"campaign {campaign_id}: f1_tracing_call started", highlight=False)
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
