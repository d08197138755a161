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
    out, err = process.communicate(timeout=10)
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"took {elapsed:.1f} s to stop"
    assert "Traceback" not in err + out, err
    assert process.returncode in (0, 130, -sig), (process.returncode, err)
    return err


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


def test_only_one_scheduler_ticks_and_the_standby_takes_over(subprocess_env):
    subprocess_env = dict(subprocess_env, ROBOCALL_LOG_LEVEL="INFO")
    client = get_redis()
    first = start(["scheduler"], subprocess_env)
    try:
        deadline = time.monotonic() + 30
        while not client.hgetall(TICKS_KEY) and time.monotonic() < deadline:
            time.sleep(0.2)
        second = start(["scheduler"], subprocess_env)
        try:
            time.sleep(4)
            ticks = client.hgetall(TICKS_KEY)
            assert len(ticks) == 1, ticks
            (leader,) = ticks
            assert f":{first.pid}:" in leader.decode()
            stop_and_check(first, signal.SIGINT)
            # The stand-by takes the lease as soon as the first releases it.
            deadline = time.monotonic() + 10
            while len(client.hgetall(TICKS_KEY)) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            ticks = client.hgetall(TICKS_KEY)
            assert any(f":{second.pid}:" in k.decode() for k in ticks), ticks
            err = stop_and_check(second, signal.SIGTERM)
            assert "standing by" in err
        finally:
            if second.poll() is None:
                second.kill()
    finally:
        if first.poll() is None:
            first.kill()
