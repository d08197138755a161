"""Finding 8: unauthenticated resource exhaustion, reproduced as reported.

"A 950 MB urlencoded body to /login took the server to 1 GB RSS. 300 MB multipart bodies to
/login and /upload were spooled to disk before the 403. 40 parallel logins for non-existent
users (argon2 at 64 MiB each) stalled /healthz for 13.6 s."

The bodies are given to the application as a server gives them (ASGI messages), counting the
bytes it takes, so "refused before it is read" is measured, not inferred from the answer.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
import pytest
from sqlalchemy.orm import Session

from robocall.config import reset_settings_cache
from robocall.users.models import Role
from robocall.web.app import create_app
from robocall.web.security import CSRF_SEARCH_BYTES, FORM_MAX_BYTES
from tests.web.conftest import LINH_TRUNG, World
from tests.web.helpers import add_user, csrf_from, served_app, signed_in_client

CHUNK = 64 * 1024  # bytes a server typically hands over at a time
GIGABYTE = 1_000_000_000
BOUNDARY = "robocall-test-boundary"


@dataclass
class Exchange:
    """One request given to the app as ASGI messages, and its answer."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    read: int = 0  # bytes of the request body the app took


def exchange(
    path: str,
    *,
    headers: dict[str, str],
    chunks: Iterator[bytes],
    chunk_count: int,
    client: tuple[str, int] = ("192.0.2.10", 40000),
) -> Exchange:
    """POST `chunk_count` chunks to the app at `path`, as uvicorn would deliver them."""
    app = create_app()
    result = Exchange()
    sent = 0
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": client,
        "server": ("robocall.test", 443),
    }

    async def receive() -> dict[str, Any]:
        nonlocal sent
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.disconnect"}
        sent += 1
        result.read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": sent < chunk_count}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            result.status = message["status"]
            result.headers = {k.decode(): v.decode() for k, v in message.get("headers") or []}
        elif message["type"] == "http.response.body":
            result.body += message.get("body", b"")

    async def run() -> None:
        await app(scope, receive, send)

    anyio.run(run)
    return result


def filler(count: int, first: bytes = b"") -> Iterator[bytes]:
    """`count` chunks of CHUNK bytes, the first starting with `first`."""
    yield first + b"x" * (CHUNK - len(first))
    for _ in range(count - 1):
        yield b"x" * CHUNK


def file_part_first(chunks: int) -> Iterator[bytes]:
    """A multipart upload whose file comes before any other field (no CSRF token before it)."""
    head = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="file"; filename="ds.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
        "Họ tên,Số điện thoại\r\n"
    ).encode()
    return filler(chunks, head)


MULTIPART = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


def test_a_login_body_declared_over_the_limit_is_refused_without_reading_it():
    # "A 950 MB urlencoded body to /login": the client says 1 GB; it is answered at once.
    answer = exchange(
        "/login",
        headers={**FORM, "content-length": str(GIGABYTE)},
        chunks=filler(32, b"username=a&password="),
        chunk_count=32,
    )
    assert answer.status == 413
    assert answer.read == 0
    assert "quá lớn" in answer.body.decode() and "too large" in answer.body.decode()


def test_a_chunked_login_body_is_cut_off_at_the_limit():
    # No Content-Length (chunked): the bytes are counted as they come and the server stops.
    answer = exchange("/login", headers=FORM, chunks=filler(32, b"username="), chunk_count=32)
    assert answer.status == 413
    assert answer.read <= FORM_MAX_BYTES + CHUNK


def test_a_multipart_login_body_is_neither_read_nor_spooled():
    # "300 MB multipart bodies to /login ... spooled to disk before the 403."
    declared = exchange(
        "/login",
        headers={**MULTIPART, "content-length": str(300 * 1024 * 1024)},
        chunks=file_part_first(64),
        chunk_count=64,
    )
    assert declared.status == 413 and declared.read == 0
    chunked = exchange("/login", headers=MULTIPART, chunks=file_part_first(64), chunk_count=64)
    assert chunked.status == 413 and chunked.read <= FORM_MAX_BYTES + CHUNK


def test_the_served_app_answers_a_gigabyte_login_at_once():
    """Through uvicorn: the 413 comes back without the server waiting for the gigabyte."""
    with served_app() as url:
        parts = urlsplit(url)
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
            conn.sendall(
                b"POST /login HTTP/1.1\r\nHost: robocall.test\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                + f"Content-Length: {GIGABYTE}\r\n\r\n".encode()
                + b"username=a&password=b"
            )
            status_line = conn.recv(1024).split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 413"), status_line


def test_an_unauthenticated_upload_is_refused_before_its_body_is_read(session: Session):
    # 10 MB, under the import limit: refused for who sends it, not for its size.
    size = {"content-length": str(160 * CHUNK)}
    page = exchange(
        "/upload", headers={**MULTIPART, **size}, chunks=file_part_first(160), chunk_count=160
    )
    assert page.status == 303 and page.headers["location"].startswith("/login")
    assert page.read == 0
    api = exchange(
        "/api/imports",
        headers={**MULTIPART, **size},
        chunks=file_part_first(160),
        chunk_count=160,
    )
    assert api.status == 401 and api.read == 0
    forged = exchange(
        "/api/imports",
        headers={**MULTIPART, **size, "authorization": "Bearer rc_not-a-token"},
        chunks=file_part_first(160),
        chunk_count=160,
    )
    assert forged.status == 401 and forged.read == 0


def _session_cookie(session: Session, username: str, role: Role, unit: str | None) -> str:
    client = signed_in_client(session, username, role, unit)
    return f"robocall_session={client.cookies['robocall_session']}"


def test_an_upload_without_the_csrf_token_is_refused_having_read_only_its_first_fields(
    session: Session, world: World
):
    cookie = _session_cookie(session, "tram.linhtrung", Role.commune, LINH_TRUNG)
    headers = {**MULTIPART, "content-length": str(160 * CHUNK), "cookie": cookie}
    answer = exchange("/upload", headers=headers, chunks=file_part_first(160), chunk_count=160)
    assert answer.status == 403
    assert answer.read <= CSRF_SEARCH_BYTES + CHUNK
    # A role that may only read is refused before anything is read.
    viewer_cookie = _session_cookie(session, "chi.xem", Role.viewer, LINH_TRUNG)
    viewer = exchange(
        "/upload",
        headers={**headers, "cookie": viewer_cookie},
        chunks=file_part_first(160),
        chunk_count=160,
    )
    assert viewer.status == 403 and viewer.read == 0


def test_an_upload_over_the_import_limit_is_refused_unread(session: Session, world: World):
    cookie = _session_cookie(session, "tram.linhtrung", Role.commune, LINH_TRUNG)
    answer = exchange(
        "/upload",
        headers={**MULTIPART, "content-length": str(300 * 1024 * 1024), "cookie": cookie},
        chunks=file_part_first(8),
        chunk_count=8,
    )
    assert answer.status == 413 and answer.read == 0


@pytest.fixture
def behind_a_local_proxy() -> Iterator[None]:
    """The served app trusts X-Forwarded-For from 127.0.0.1, as behind nginx on the host."""
    before = os.environ.get("ROBOCALL_TRUSTED_PROXIES")
    os.environ["ROBOCALL_TRUSTED_PROXIES"] = "127.0.0.1"
    reset_settings_cache()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("ROBOCALL_TRUSTED_PROXIES", None)
        else:
            os.environ["ROBOCALL_TRUSTED_PROXIES"] = before
        reset_settings_cache()


LOGINS = 40
HEALTHZ_BOUND = 2.0  # seconds; generous: the machine has two cores shared with other work


def test_forty_parallel_logins_for_unknown_users_leave_healthz_answering(
    session: Session, behind_a_local_proxy: None
):
    add_user(session, "quantri", Role.admin)  # one real account; the logins are for others
    with served_app() as url:
        clients = [httpx.Client(base_url=url, timeout=120) for _ in range(LOGINS)]
        tokens = [csrf_from(c.get("/login").text) for c in clients]
        go = threading.Barrier(LOGINS + 1)
        statuses: list[int] = []

        def bad_login(i: int) -> None:
            go.wait()
            answer = clients[i].post(
                "/login",
                data={"username": f"khong-co-{i}", "password": "sai", "csrf_token": tokens[i]},
                # A botnet: each login from its own address, so none is slowed by the
                # per-address delays and every one costs a password check.
                headers={"X-Forwarded-For": f"198.51.100.{i + 1}"},
            )
            statuses.append(answer.status_code)

        threads = [threading.Thread(target=bad_login, args=(i,)) for i in range(LOGINS)]
        for thread in threads:
            thread.start()
        waits: list[float] = []
        with httpx.Client(base_url=url, timeout=60) as probe:
            go.wait()
            while any(t.is_alive() for t in threads):
                started = time.monotonic()
                assert probe.get("/healthz").status_code == 200
                waits.append(time.monotonic() - started)
                time.sleep(0.05)
        for thread in threads:
            thread.join()
        for client in clients:
            client.close()
    assert statuses == [401] * LOGINS
    assert max(waits) < HEALTHZ_BOUND, waits
    assert len(waits) >= 3, waits  # /healthz was asked again and again while the logins ran
