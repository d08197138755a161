"""serve, worker and scheduler start, report health, and stop cleanly on Ctrl-C/SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from robocall.workers.connection import get_redis
from robocall.workers.periodic import TICKS_KEY
from robocall.workers.queues import get_queue


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "robocall.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_healthy(port: int, process: subprocess.Popen[str], seconds: float = 30) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                return json.loads(r.read())
        except OSError:
            time.sleep(0.2)
    raise AssertionError("never became healthy")


def stop_and_check(process: subprocess.Popen[str], sig: signal.Signals) -> str:
    started = time.monotonic()
    process.send_signal(sig)
    out, err = process.communicate(timeout=30)
    elapsed = time.monotonic() - started
    # Stopping takes well under a second; the bound catches a process that ignores the signal
    # or waits out a timeout, with room for a loaded machine.
    assert elapsed < 15, f"took {elapsed:.1f} s to stop"
    printed = (out or "") + (err or "")
    assert "Traceback" not in printed, printed
    # 128 + the signal: it left through its exit handlers (the embedded Redis server's too).
    assert process.returncode in (0, 130, -sig, 128 + sig), (process.returncode, printed)
    return printed


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("command", ["serve", "worker", "scheduler"])
def test_process_is_healthy_then_stops_within_5_seconds(command, sig, subprocess_env):
    port = free_port()
    args = (
        [command, "--port", str(port)]
        if command == "serve"
        else [command, "--health-port", str(port)]
    )
    process = start(args, subprocess_env)
    try:
        health = wait_healthy(port, process)
        assert health == {"status": "ok", "process": command, "database": "ok", "redis": "ok"}
    finally:
        if process.poll() is None:
            stop_and_check(process, sig)


def wait_for_line(path, text: str, process: subprocess.Popen[str], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, path.read_text()
        if text in path.read_text():
            return
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared: {path.read_text()}")


def test_only_one_scheduler_ticks_and_the_standby_takes_over(subprocess_env, tmp_path):
    env = dict(subprocess_env, ROBOCALL_LOG_LEVEL="INFO")
    client = get_redis()
    logs = {name: tmp_path / f"{name}.log" for name in ("first", "second")}
    processes = {}
    try:
        for name in ("first", "second"):
            with logs[name].open("w") as log:
                processes[name] = subprocess.Popen(
                    [sys.executable, "-m", "robocall.cli", "scheduler"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    text=True,
                )
            expected = "is active" if name == "first" else "standing by"
            wait_for_line(logs[name], expected, processes[name])
        first, second = processes["first"], processes["second"]
        ticks_before = client.hgetall(TICKS_KEY)
        time.sleep(3)
        ticks = client.hgetall(TICKS_KEY)
        assert list(ticks) == [k for k in ticks_before], ticks
        (leader,) = ticks
        assert f":{first.pid}:" in leader.decode()
        assert int(ticks[leader]) > int(ticks_before[leader])

        stop_and_check(first, signal.SIGINT)
        # The stand-by takes the lease as soon as the first releases it.
        wait_for_line(logs["second"], "is active", second, seconds=30)
        deadline = time.monotonic() + 30
        while len(client.hgetall(TICKS_KEY)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert any(f":{second.pid}:" in k.decode() for k in client.hgetall(TICKS_KEY))
        stop_and_check(second, signal.SIGTERM)
        for log in logs.values():
            assert "Traceback" not in log.read_text()
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()


def test_scheduler_runs_one_periodic_job_on_demand(subprocess_env):
    for job in ("heartbeat", "campaign_tick", "campaign_sweeper"):
        result = subprocess.run(
            [sys.executable, "-m", "robocall.cli", "scheduler", "--eager", job],
            env=subprocess_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert f"ran {job}" in result.stdout
    unknown = subprocess.run(
        [sys.executable, "-m", "robocall.cli", "scheduler", "--eager", "nope"],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode == 1
    assert "no periodic job 'nope'" in unknown.stderr and "campaign_tick" in unknown.stderr


def test_worker_and_scheduler_live_through_a_redis_restart(
    subprocess_env, restartable_redis, tmp_path
):
    env = dict(subprocess_env, ROBOCALL_REDIS_URL=restartable_redis.url)
    client = get_redis()  # the test's own server, which it restarts
    ports = {name: free_port() for name in ("worker", "scheduler")}
    logs = {name: tmp_path / f"{name}.log" for name in ports}
    processes = {}
    try:
        for name, port in ports.items():
            with logs[name].open("w") as log:
                processes[name] = subprocess.Popen(
                    [sys.executable, "-m", "robocall.cli", name, "--health-port", str(port)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    text=True,
                )
            wait_healthy(port, processes[name])
        restartable_redis.restart(down_for=1.5)  # without persistence: the lease is gone too

        # The scheduler takes the lease again and ticks; the worker runs a job queued now.
        deadline = time.monotonic() + 20
        while not client.hgetall(TICKS_KEY) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.hgetall(TICKS_KEY), logs["scheduler"].read_text()
        job = get_queue("default").enqueue("os.getpid")
        while job.get_status() != "finished" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert job.return_value() == processes["worker"].pid, logs["worker"].read_text()
        for name, port in ports.items():
            assert processes[name].poll() is None, logs[name].read_text()
            assert wait_healthy(port, processes[name])["redis"] == "ok"
        # Each saw the outage (rq's own words for an idle worker's lost connection).
        assert "could not connect to Redis" in logs["worker"].read_text()
        assert "Redis unreachable" in logs["scheduler"].read_text()
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)
