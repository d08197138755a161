"""Dispatch speed: a large campaign against the simulator under a calls-per-second limit and cap.

    uv run python bench/dispatch.py [--contacts 10000] [--cps 50] [--cap 40] [--workers 1 4]
                                    [--database-url URL] [--busy-loop]

Each run is a deployment on this machine, every part in its own process as in production:
`robocall serve` (the webhooks), `robocall scheduler` (the tick, every second, and the
sweeper), N × `robocall worker --queue calls`, and `robocall simulator` as the provider, with
a fresh database (SQLite unless --database-url) and a fresh embedded Redis. This process
only creates the contacts and the campaign, starts it and watches it.

Every resident lets the phone ring out (no answer after the 30 s ring timeout × the time
factor), one attempt each, so the campaign is exactly one call per contact. Reports:
- achieved rate while a backlog exists (calls placed, first to last)
- the most calls placed in any one-second window, by when the worker asked the provider
  (the calls' created_at), and as the simulator received them (its event loop may take a
  request a few milliseconds late when busy)
- campaign time (start to completed) against the least possible: contacts / cps + one call
- CPU per placed call of each process kind, and of robocall's processes together
Baseline in the same run: the Redis rate limiter alone (one loop taking slots, no calls).
--busy-loop: another process spins on a whole core all through each run, as a busier machine.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

TIME_FACTOR = 0.02  # a 30 s ring timeout lasts 0.6 s
RING_SECONDS = 30 * TIME_FACTOR
PERSONAS = "version: 1\ndefault: {no_answer: 1.0, seed: 1}\nnumbers: {}\n"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process and its waited-for children, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / CLOCK_TICKS


def wait_healthy(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"{url} did not start")


def simulator_stats(url: str, account_sid: str, auth_token: str) -> dict[str, Any]:
    request = urllib.request.Request(url + "/simulator/stats")
    import base64

    basic = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
    request.add_header("Authorization", f"Basic {basic}")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return dict(json.loads(answer.read()))


BUSY_LOOP = "while True: pass"


def run(contacts: int, cps: float, cap: int, workers: int, database_url: str | None) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="robocall-bench-dispatch-"))
    os.environ["ROBOCALL_VAR_DIR"] = str(tmp / "var")
    os.environ["ROBOCALL_DATABASE_URL"] = database_url or f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ["ROBOCALL_PUBLIC_URL"] = "https://robocall.test"
    os.environ["ROBOCALL_LOG_LEVEL"] = "WARNING"
    os.environ["ROBOCALL_AUTO_MIGRATE"] = "false"
    os.environ.pop("ROBOCALL_REDIS_URL", None)
    from robocall.config import get_settings, reset_settings_cache

    reset_settings_cache()
    from sqlalchemy import insert, select

    from robocall import models  # noqa: F401
    from robocall.campaigns.models import Campaign, CampaignStatus
    from robocall.campaigns.service import create_campaign, start_campaign
    from robocall.contacts.models import Classification, Contact
    from robocall.db import dispose_engine, get_engine, session_scope, utcnow
    from robocall.schema import upgrade
    from robocall.telephony.base import CallDirection
    from robocall.telephony.models import Call
    from robocall.workers.connection import (
        embedded_socket_path,
        get_redis,
        reset_redis,
        shutdown_embedded,
    )

    dispose_engine()
    reset_redis()
    upgrade(get_engine())
    get_redis().ping()
    with session_scope() as db_session:
        db_session.execute(
            insert(Contact),
            [
                {
                    "name": f"Người {n}",
                    "match_key": f"nguoi {n}",
                    "phone": f"+8491{n:07d}",
                    "sms_capable": False,
                    "classification": Classification.F1,
                    "alt_phones": [],
                    "extra": {},
                }
                for n in range(contacts)
            ],
        )
    personas = tmp / "personas.yaml"
    personas.write_text(PERSONAS, encoding="utf-8")
    app_url = f"http://127.0.0.1:{free_port()}"
    sim_port = free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    env = {
        **os.environ,
        "ROBOCALL_REDIS_URL": f"unix://{embedded_socket_path()}",
        "ROBOCALL_SIMULATOR_URL": sim_url,
    }
    robocall = [sys.executable, "-m", "robocall.cli"]

    def start(*args: str) -> subprocess.Popen[bytes]:
        log = open(tmp / f"{args[0]}-{time.monotonic_ns()}.log", "wb")
        return subprocess.Popen([*robocall, *args], env=env, stdout=log, stderr=log)

    processes = {
        "simulator": [
            start(
                "simulator",
                "--port",
                str(sim_port),
                "--app-url",
                app_url,
                "--personas",
                str(personas),
                "--time-factor",
                str(TIME_FACTOR),
                "--cps",
                "100000",
                "--max-concurrent",
                "100000",
            )
        ],
        "serve": [start("serve", "--port", app_url.rsplit(":", 1)[1])],
        "scheduler": [start("scheduler")],
        "workers": [start("worker", "--queue", "calls") for _ in range(workers)],
    }
    try:
        wait_healthy(sim_url)
        wait_healthy(app_url)
        time.sleep(3)  # workers and scheduler start
        with session_scope() as db_session:
            campaign = create_campaign(
                db_session=db_session,
                preset="bluezone_guide_call",
                name="bench",
                window="00:00-24:00",
                cps=cps,
                max_concurrent=cap,
                max_attempts=1,
                amd=False,
            )
            campaign_id = campaign.id
        cpu_before = {
            kind: sum(cpu_seconds(p.pid) for p in procs) for kind, procs in processes.items()
        }
        started = time.monotonic()
        with session_scope() as db_session:
            start_campaign(db_session=db_session, campaign_id=campaign_id, now=utcnow())
        while True:
            time.sleep(0.25)
            with session_scope() as db_session:
                campaign = db_session.get(Campaign, campaign_id)
                assert campaign is not None
                if campaign.status == CampaignStatus.completed:
                    break
        elapsed = time.monotonic() - started
        cpu = {
            kind: sum(cpu_seconds(p.pid) for p in procs) - cpu_before[kind]
            for kind, procs in processes.items()
        }
        with session_scope() as db_session:
            asked = sorted(
                t.timestamp()
                for t in db_session.scalars(
                    select(Call.created_at).where(Call.direction == CallDirection.outbound)
                )
            )
        settings = get_settings()
        stats = simulator_stats(
            sim_url, settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value()
        )
    finally:
        for procs in processes.values():
            for process in procs:
                process.terminate()
        for procs in processes.values():
            for process in procs:
                process.wait(timeout=30)
        shutdown_embedded()  # this run's Redis server
    calls = int(stats["calls_created"])
    span = asked[-1] - asked[0] if asked else 0.0
    per_call = {kind: 1000 * seconds / max(calls, 1) for kind, seconds in cpu.items()}
    return {
        "calls": calls,
        "rate": (calls - 1) / span if span > 0 else 0.0,
        "most_placed_in_one_second": max(
            (bisect.bisect_left(asked, t + 1.0) - i for i, t in enumerate(asked)), default=0
        ),
        "most_received_in_one_second": stats["most_created_in_one_second"],
        "peak_live_calls": stats["peak_live_calls"],
        "elapsed": elapsed,
        "least": contacts / cps + RING_SECONDS,
        "cpu_ms": per_call,
        "robocall_cpu_ms": sum(v for k, v in per_call.items() if k != "simulator"),
    }


def limiter_baseline(cps: float, seconds: float = 3.0) -> float:
    """Calls a second a single loop gets from the Redis rate limiter alone (no calls)."""
    from robocall.campaigns.limits import RateLimiter
    from robocall.workers.connection import get_redis

    limiter = RateLimiter(get_redis(), account="bench", caller_id="baseline", per_second=cps)
    limiter.take()
    first = limiter.slot_us
    taken, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        limiter.take()
        taken += 1
    assert first is not None and limiter.slot_us is not None
    return taken / ((limiter.slot_us - first) / 1_000_000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--cps", type=float, default=50.0)
    parser.add_argument("--cap", type=int, default=40)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--database-url", help="an empty database instead of a new SQLite file")
    parser.add_argument("--busy-loop", action="store_true", help="spin on a core all the while")
    args = parser.parse_args()
    busy = subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) if args.busy_loop else None
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"{args.contacts} contacts, limit {args.cps:g} calls/s, cap {args.cap}, {database}"
        + (", a busy loop on one core" if busy else ""),
        flush=True,
    )
    try:
        measure(args)
    finally:
        if busy is not None:
            busy.kill()


def measure(args: argparse.Namespace) -> None:
    for workers in args.workers:
        r = run(args.contacts, args.cps, args.cap, workers, args.database_url)
        cpu = ", ".join(f"{kind} {ms:.1f}" for kind, ms in r["cpu_ms"].items())
        print(
            f"workers {workers}: calls {r['calls']}, rate {r['rate']:.2f}/s "
            f"({100 * r['rate'] / args.cps:.1f}% of {args.cps:g}), most placed in one second "
            f"{r['most_placed_in_one_second']} (received by the simulator: "
            f"{r['most_received_in_one_second']}), peak live {r['peak_live_calls']}, time "
            f"{r['elapsed']:.1f} s vs least {r['least']:.1f} s ({r['elapsed'] / r['least']:.3f}×)"
            f"; CPU ms per call: {cpu}; robocall {r['robocall_cpu_ms']:.1f}",
            flush=True,
        )
        if workers == args.workers[0]:
            rate = limiter_baseline(args.cps)
            print(
                f"baseline, the limiter alone: {rate:.2f} calls/s "
                f"({100 * rate / args.cps:.1f}% of {args.cps:g})",
                flush=True,
            )


if __name__ == "__main__":
    main()
