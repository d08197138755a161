"""`robocall demo` as a newcomer runs it: on the embedded defaults, whole while it serves, and
leaving no process behind.

Each test runs robocall as subprocesses on a var dir of its own, with no database or Redis
configured: the embedded SQLite file and the embedded Redis server, as on a fresh machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.test_processes import free_port

ROBOCALL = [sys.executable, "-m", "robocall.cli"]
DEMO_TIMEOUT = 300  # seconds for the demo's campaign on a slow, busy machine
JOB_TIMEOUT = 30  # seconds an upload or an export may take once asked for


def embedded_env(var_dir: Path) -> dict[str, str]:
    """The environment of a fresh machine: nothing configured but where ./var is."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROBOCALL_")}
    env["ROBOCALL_VAR_DIR"] = str(var_dir)
    return env


def redis_servers_of(var_dir: Path) -> list[int]:
    """The redis-server processes working in `var_dir` (the embedded server runs there)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if name.startswith("redis-server") and cwd.is_relative_to(var_dir.resolve()):
            found.append(int(entry.name))
    return found


def run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> str:
    done = subprocess.run(
        [*ROBOCALL, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def wait_for_text(path: Path, text: str, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while text not in path.read_text(encoding="utf-8", errors="replace"):
        assert process.poll() is None, path.read_text(encoding="utf-8", errors="replace")
        assert time.monotonic() < deadline, path.read_text(encoding="utf-8", errors="replace")
        time.sleep(0.2)


def wait_done(client: httpx.Client, url: str, key: str = "state") -> dict:
    """Poll a job's progress until it is done; it must be within JOB_TIMEOUT."""
    deadline = time.monotonic() + JOB_TIMEOUT
    while True:
        status = client.get(url).raise_for_status().json()
        if status[key] in ("done", "failed", "refused"):
            return status
        assert time.monotonic() < deadline, f"still {status[key]} after {JOB_TIMEOUT} s: {url}"
        time.sleep(0.2)


def test_demo_once_prints_a_summary_in_words_and_leaves_no_redis_server(tmp_path):
    var_dir = tmp_path / "var"
    env = embedded_env(var_dir)
    out = run(["demo", "--once"], env, tmp_path, timeout=DEMO_TIMEOUT)

    lines = [line for line in out.splitlines() if line.strip()]
    assert not [line for line in lines if "WARNING" in line or "Traceback" in line], out
    workbook = lines[-1]
    assert workbook.startswith("Workbook: ") and Path(workbook[10:]).is_file(), out
    summary = "\n".join(lines[-6:-1])
    assert "Numbers called: " in summary and " reached (" in summary
    assert "Calls: " in summary and " answered" in summary
    assert "SMS: " in summary and " sent" in summary
    assert "{" not in summary  # words, not a printed dict
    assert redis_servers_of(var_dir) == []

    # Another command on the same ./var starts the embedded server and stops it on leaving.
    listing = tmp_path / "list.csv"
    listing.write_text(
        "Họ và tên,Số điện thoại,Phân loại\nNguyễn Văn Tâm,0912 345 678,F1\n", encoding="utf-8"
    )
    run(["import", str(listing), "--unit", "26794"], env, tmp_path)
    run(["reports", "list"], env, tmp_path)
    assert redis_servers_of(var_dir) == []


def test_a_command_leaves_running_the_server_another_process_uses_and_the_last_stops_it(
    tmp_path,
):
    var_dir = tmp_path / "var"
    env = embedded_env(var_dir)
    # A long-running robocall process on the embedded server: a worker.
    worker = subprocess.Popen(
        [*ROBOCALL, "worker"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while not redis_servers_of(var_dir):
            assert worker.poll() is None, worker.communicate()
            assert time.monotonic() < deadline, "the worker never started the embedded server"
            time.sleep(0.1)
        server = redis_servers_of(var_dir)
        out = run(["campaign", "list"], env, tmp_path)  # uses the same server, then leaves
        assert redis_servers_of(var_dir) == server, out
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=30)
    assert redis_servers_of(var_dir) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_no_redis_server_outlives_a_command_stopped_by_a_signal(tmp_path, sig):
    var_dir = tmp_path / "var"
    scheduler = subprocess.Popen(
        [*ROBOCALL, "scheduler"],
        env=embedded_env(var_dir),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not redis_servers_of(var_dir):
        assert scheduler.poll() is None
        assert time.monotonic() < deadline
        time.sleep(0.1)
    scheduler.send_signal(sig)
    scheduler.wait(timeout=30)
    left = redis_servers_of(var_dir)
    for pid in left:  # a failing run must not leave its server behind on the machine
        os.kill(pid, signal.SIGKILL)
    assert left == []


def test_the_serving_demo_runs_uploads_and_exports_asked_for_after_its_campaign(tmp_path):
    var_dir = tmp_path / "var"
    env = embedded_env(var_dir)
    port = free_port()
    log = tmp_path / "demo.log"
    with log.open("wb") as output:
        demo = subprocess.Popen(
            [*ROBOCALL, "demo", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        # Its own campaign is over and it only serves now: nothing else is running.
        wait_for_text(log, "serving the web UI until Ctrl-C", demo, DEMO_TIMEOUT)
        run(["users", "add", "quantri", "--role", "admin", "--generate"], env, tmp_path)
        token = run(["users", "token", "quantri"], env, tmp_path).rsplit(": ", 1)[1].strip()
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {token}"}
        listing = "Họ và tên,Số điện thoại\nPhạm Thị Lan,0987 654 321\nĐỗ Văn Hùng,0912 111 222\n"
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            answer = client.post(
                "/api/imports",
                files={"file": ("lan.csv", listing.encode(), "text/csv")},
                data={"unit": "26794", "classification": "F1"},
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["created"] == 2

            # The web UI's upload: previewed, confirmed, then imported by a worker.
            preview = client.post(
                "/upload",
                files={"file": ("hung.csv", listing.replace("Lan", "Mai").encode(), "text/csv")},
                data={"unit": "26800", "classification": "F1"},
            )
            assert preview.status_code == 200, preview.text
            upload_token = preview.text.split('name="token" value="', 1)[1].split('"', 1)[0]
            confirmed = client.post("/upload/confirm", data={"token": upload_token})
            assert confirmed.status_code == 303, confirmed.text
            imported = wait_done(client, f"/upload/status/{upload_token}/progress")
            assert imported["state"] == "done", imported

            # An export prepared by a worker.
            asked = client.post("/exports/contacts/prepare", data={"fmt": "xlsx"})
            assert asked.status_code == 303, asked.text
            prepared = wait_done(client, asked.headers["location"] + "/progress")
            assert prepared["state"] == "done", json.dumps(prepared)
            assert client.get(asked.headers["location"] + "/file").status_code == 200
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=60)
    printed = log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in printed and "WARNING" not in printed, printed
    assert redis_servers_of(var_dir) == []
