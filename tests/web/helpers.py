"""Helpers for the web tests: users, signed-in clients, the app served for a real browser."""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from robocall.config import reset_settings_cache
from robocall.kit.net import listening_socket
from robocall.users.models import Role, User
from robocall.users.service import create_api_token, create_user
from robocall.web.app import create_app

PASSWORD = "mat-khau-thu-nghiem"
DEBIAN_CHROMIUM = "/usr/bin/chromium"
NO_BROWSER = (
    "no Chromium found for the browser tests: install one with `apt-get install chromium` "
    "(or `uv run playwright install chromium` on a machine with internet), or point "
    "ROBOCALL_BROWSER at its executable"
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def add_user(
    session: Session, username: str, role: Role = Role.admin, unit: str | None = None
) -> User:
    """A committed account with PASSWORD."""
    user = create_user(
        db_session=session, username=username, role=role, unit_code=unit, password=PASSWORD
    )
    session.commit()
    return user


def api_client(
    session: Session, username: str = "importer", role: Role = Role.admin, unit: str | None = None
) -> TestClient:
    """A client sending a new user's API token with every request."""
    user = add_user(session, username, role, unit)
    token = create_api_token(db_session=session, user=user, name="tests")
    session.commit()
    return TestClient(create_app(), headers={"Authorization": f"Bearer {token}"})


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def signed_in_client(session: Session, username: str, role: Role, unit: str | None) -> TestClient:
    """A browser-like client signed in with a session cookie (https, as in the test settings)."""
    add_user(session, username, role, unit)
    client = TestClient(create_app(), base_url="https://robocall.test")
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client


def page_csrf(client: TestClient, path: str = "/") -> str:
    """The CSRF token of the signed-in session, read from a page's sign-out form."""
    return csrf_from(client.get(path).text)


@contextmanager
def served_app() -> Iterator[str]:
    """The app served by uvicorn on 127.0.0.1 (a free port), over plain http; yields its URL."""
    import uvicorn

    sock = listening_socket()
    port = sock.getsockname()[1]
    before = os.environ.get("ROBOCALL_PUBLIC_URL")
    # The session cookie is Secure only when the public URL is https; this server is plain http.
    os.environ["ROBOCALL_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    reset_settings_cache()
    # Not uvicorn's own X-Forwarded-For handling (it trusts 127.0.0.1): the app's, by
    # ROBOCALL_TRUSTED_PROXIES, decides who the client is.
    config = uvicorn.Config(create_app(), log_level="warning", lifespan="off", proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        if before is None:
            os.environ.pop("ROBOCALL_PUBLIC_URL", None)
        else:
            os.environ["ROBOCALL_PUBLIC_URL"] = before
        reset_settings_cache()


@contextmanager
def running_worker(queues: list[str]) -> Iterator[None]:
    """An rq worker in a thread, emptying `queues` until the block ends."""
    from robocall.processes import make_worker

    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            # Burst rounds: the thread stops promptly instead of blocking on a dequeue.
            make_worker(queues, threaded=True).work(burst=True, logging_level="WARNING")
            stop.wait(0.1)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=15)


def find_chromium() -> str | None:
    """The Chromium the browser tests drive: ROBOCALL_BROWSER when set (a path that does not
    exist finds none), else Debian's, else one on PATH, else Playwright's own download."""
    chosen = os.environ.get("ROBOCALL_BROWSER")
    if chosen:
        return chosen if os.access(chosen, os.X_OK) else None
    if os.access(DEBIAN_CHROMIUM, os.X_OK):
        return DEBIAN_CHROMIUM
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        bundled = playwright.chromium.executable_path
    return bundled if os.access(bundled, os.X_OK) else None


def require_chromium() -> str:
    """The browser's path; without one the test is skipped with how to get one, or fails
    when ROBOCALL_REQUIRE_BROWSER=1 (CI always runs the browser tests)."""
    found = find_chromium()
    if found is None:
        if os.environ.get("ROBOCALL_REQUIRE_BROWSER") == "1":
            pytest.fail(NO_BROWSER + " (ROBOCALL_REQUIRE_BROWSER=1)")
        pytest.skip(NO_BROWSER)
    return found


@contextmanager
def chromium(executable: str) -> Iterator[Any]:
    """Headless Chromium driven by Playwright; yields a browser."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def browser_login(page: Any, base_url: str, username: str) -> None:
    """Sign in through the login form."""
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")
