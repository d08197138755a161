"""Dispatch speed: a large campaign against the simulator under a calls-per-second limit and cap.

    uv run python bench/dispatch.py [--contacts 10000] [--cps 50] [--cap 40] [--workers 1 4]

For each worker count: a fresh SQLite file and embedded Redis; the web app (webhooks) and the
simulator in this process; the scheduler's tick in this process; `robocall worker` processes.
Every resident lets the phone ring out (no answer after the 30 s ring timeout × the time
factor), one attempt each, so the campaign is exactly one call per contact. Reports:
- achieved rate while a backlog exists (calls created at the simulator, first to last) vs the limit
- the most calls created in any one-second window, as the simulator saw them (must not exceed)
- campaign time vs the least possible (contacts / cps + one call's length)
- CPU per placed call: the worker processes (dispatch itself), and everything (with webhooks
  and the simulator)
Baseline in the same run: the limiter alone (RateLimiter.try_take spacing, no calls).
"""

from __future__ import annotations

import argparse
import bisect
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TIME_FACTOR = 0.02  # a 30 s ring timeout lasts 0.6 s


def setup_env(tmp: Path) -> None:
    os.environ["ROBOCALL_VAR_DIR"] = str(tmp / "var")
    os.environ["ROBOCALL_DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ["ROBOCALL_PUBLIC_URL"] = "https://robocall.test"
    os.environ["ROBOCALL_LOG_LEVEL"] = "WARNING"
    os.environ.pop("ROBOCALL_REDIS_URL", None)


def run(contacts: int, cps: float, cap: int, workers: int) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="robocall-bench-dispatch-"))
    setup_env(tmp)
    from robocall.config import reset_settings_cache

    reset_settings_cache()
    import uvicorn
    from sqlalchemy import insert

    from robocall import models  # noqa: F401
    from robocall.campaigns.dispatch import sweep, tick
    from robocall.campaigns.models import Campaign, CampaignStatus
    from robocall.campaigns.service import create_campaign, start_campaign
    from robocall.campaigns.wiring import wire
    from robocall.contacts.models import Classification, Contact
    from robocall.db import dispose_engine, session_scope, utcnow
    from robocall.schema import upgrade
    from robocall.simulator.embedded import build_network, start_simulator
    from robocall.simulator.personas import parse_personas
    from robocall.web.app import create_app
    from robocall.workers.connection import embedded_socket_path, get_redis, reset_redis

    dispose_engine()
    reset_redis()
    from robocall.db import get_engine

    upgrade(get_engine())
    get_redis().ping()
    redis_url = f"unix://{embedded_socket_path()}"
    wire()
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
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    app_port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(), log_level="warning", lifespan="off", access_log=False)
    )
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    personas = parse_personas("version: 1\ndefault: {no_answer: 1.0, seed: 1}\nnumbers: {}\n")
    network = build_network(
        app_url=f"http://127.0.0.1:{app_port}",
        personas=personas,
        time_factor=TIME_FACTOR,
        calls_per_second=10_000,
        max_concurrent=10_000,
    )
    simulator = start_simulator(network)
    env = {
        **os.environ,
        "ROBOCALL_REDIS_URL": redis_url,
        "ROBOCALL_SIMULATOR_URL": simulator.url,
        "ROBOCALL_AUTO_MIGRATE": "false",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "robocall.cli", "worker", "--queue", "calls"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    time.sleep(3)  # workers start
    with session_scope() as db_session:
        campaign = create_campaign(
            db_session=db_session,
            preset="bluezone_guide_call",
            name="bench",
            window="00:00-23:59",
            cps=cps,
            max_concurrent=cap,
            max_attempts=1,
            amd=False,
        )
        campaign_id = campaign.id
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    with session_scope() as db_session:
        start_campaign(db_session=db_session, campaign_id=campaign_id, now=utcnow())
    last_sweep = time.monotonic()
    while True:
        tick()
        if time.monotonic() - last_sweep > 5:
            sweep()
            last_sweep = time.monotonic()
        with session_scope() as db_session:
            done = db_session.get(Campaign, campaign_id).status == CampaignStatus.completed
        if done:
            break
        time.sleep(0.1)
    elapsed = time.monotonic() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=30)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    created = sorted(c.date_created.timestamp() for c in network.calls.values())
    simulator.stop()
    server.should_exit = True
    most = max(
        bisect.bisect_left(created, t + 1.0) - i for i, t in enumerate(created)
    )
    rate = (len(created) - 1) / (created[-1] - created[0]) if len(created) > 1 else 0.0
    least = contacts / cps + 30 * TIME_FACTOR
    own_cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    worker_cpu = children.ru_utime + children.ru_stime
    return {
        "calls": len(created),
        "rate": rate,
        "most_in_one_second": most,
        "elapsed": elapsed,
        "least": least,
        "worker_cpu_ms": 1000 * worker_cpu / max(len(created), 1),
        "total_cpu_ms": 1000 * (worker_cpu + own_cpu) / max(len(created), 1),
    }


def limiter_baseline(cps: float, seconds: float = 3.0) -> float:
    """Tokens a single loop takes per second from the Redis limiter alone (no calls)."""
    from robocall.campaigns.limits import RateLimiter
    from robocall.workers.connection import get_redis

    limiter = RateLimiter(get_redis(), account="bench", caller_id="baseline", per_second=cps)
    taken, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        wait = limiter.try_take()
        if wait == 0:
            taken += 1
        else:
            time.sleep(wait)
    return taken / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--cps", type=float, default=50.0)
    parser.add_argument("--cap", type=int, default=40)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    print(f"limiter alone (baseline): {limiter_baseline(args.cps):.1f} tokens/s at {args.cps}/s")
    for workers in args.workers:
        r = run(args.contacts, args.cps, args.cap, workers)
        print(
            f"workers {workers}: calls {r['calls']}, rate {r['rate']:.1f}/s "
            f"({100 * r['rate'] / args.cps:.1f}% of {args.cps:g}), most in one second "
            f"{r['most_in_one_second']}, time {r['elapsed']:.1f} s vs least {r['least']:.1f} s "
            f"({r['elapsed'] / r['least']:.2f}×), CPU per call: workers {r['worker_cpu_ms']:.1f} ms, "
            f"all {r['total_cpu_ms']:.1f} ms",
            flush=True,
        )


if __name__ == "__main__":
    main()
