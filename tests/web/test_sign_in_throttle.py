"""Finding 9: login lock-out and enumeration, reproduced as reported.

"Five wrong passwords lock any named account, admins included, for 15 minutes, and this can be
repeated forever. The 423 status appears only for real users."

Wrong passwords now slow the next tries from where they came, by account and by address; the
clock is the test's (`robocall.users.login.clock`), so delays pass without sleeping.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.config import parse_networks, reset_settings_cache
from robocall.users import login as login_module
from robocall.users.login import ADDRESS_FREE_FAILURES, MAX_DELAY
from robocall.users.models import AuditEntry, Role, User
from robocall.users.service import dummy_password_hash
from robocall.web.app import create_app
from robocall.web.security import forwarded_client
from tests.web.helpers import PASSWORD, add_user, csrf_from

ATTACKER = "203.0.113.66"
OFFICE = "198.51.100.20"


class Clock:
    """The sign-in delays' clock, moved by the test."""

    def __init__(self) -> None:
        self.now = dt.datetime(2021, 8, 2, 1, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    controlled = Clock()
    monkeypatch.setattr(login_module, "clock", controlled)
    return controlled


def browser(address: str, **headers: str) -> TestClient:
    """A browser connecting from `address`."""
    return TestClient(
        create_app(), base_url="https://robocall.test", client=(address, 50000), headers=headers
    )


def sign_in(client: TestClient, username: str, password: str) -> tuple[int, str, str | None]:
    """(status, page with the CSRF token blanked, Retry-After)."""
    token = csrf_from(client.get("/login").text)
    answer = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    page = answer.text.replace(token, "TOKEN")
    return answer.status_code, page, answer.headers.get("retry-after")


def test_an_attacker_hammering_the_admin_does_not_keep_the_admin_out(session, clock):
    add_user(session, "quantri", Role.admin)
    attacker = browser(ATTACKER)
    # Twenty guesses, each as soon as it is allowed: told to wait, the attacker waits exactly
    # that long and guesses again.
    statuses = []
    for _ in range(20):
        status, _, retry_after = sign_in(attacker, "quantri", "doan-mo-mat-khau")
        statuses.append(status)
        if retry_after:
            clock.advance(float(retry_after))
            statuses.append(sign_in(attacker, "quantri", "doan-mo-mat-khau")[0])
    assert 423 not in statuses and set(statuses) == {401, 429}
    # The delay stopped growing at a few minutes: nothing holds the account closed.
    assert sign_in(attacker, "quantri", PASSWORD)[2] == str(int(MAX_DELAY))
    # Meanwhile the administrator, at the office, signs in at once.
    status, _, _ = sign_in(browser(OFFICE), "quantri", PASSWORD)
    assert status == 303
    # The attacker is still slowed, even with the right password: it is not judged.
    assert sign_in(attacker, "quantri", PASSWORD)[0] == 429


def test_unknown_and_known_usernames_get_the_same_answers(session, clock, monkeypatch):
    add_user(session, "quantri", Role.admin)
    checks: list[str] = []
    real_verify = login_module.verify_password

    def counting_verify(password_hash: str, password: str) -> bool:
        checks.append(password_hash)
        return real_verify(password_hash, password)

    monkeypatch.setattr(login_module, "verify_password", counting_verify)

    def answers(username: str, address: str) -> list[tuple[int, str, str | None]]:
        client = browser(address)
        return [sign_in(client, username, "sai-mat-khau-roi") for _ in range(8)]

    checks.clear()
    known = answers("quantri", "192.0.2.1")
    known_checks = len(checks)
    checks.clear()
    unknown = answers("khong-ai-ca", "192.0.2.2")
    assert unknown == known  # status, page and Retry-After, try by try
    assert [a[0] for a in known] == [401] * 5 + [429] * 3
    # The same work: one password check for every try that is judged, none for the others.
    assert len(checks) == known_checks == 5
    # The unknown name was checked against a hash as costly as a real one.
    parameters = re.compile(r"^\$argon2id\$v=\d+\$m=\d+,t=\d+,p=\d+\$")
    real_hash = session.scalar(select(User.password_hash))
    assert parameters.match(dummy_password_hash())[0] == parameters.match(real_hash)[0]
    assert set(checks) == {dummy_password_hash()}


@pytest.fixture
def trusted_proxies() -> Iterator[None]:
    before = os.environ.get("ROBOCALL_TRUSTED_PROXIES")
    os.environ["ROBOCALL_TRUSTED_PROXIES"] = "10.0.0.0/8, 192.0.2.53"
    reset_settings_cache()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("ROBOCALL_TRUSTED_PROXIES", None)
        else:
            os.environ["ROBOCALL_TRUSTED_PROXIES"] = before
        reset_settings_cache()


def _login_addresses(session: Session) -> list[str | None]:
    session.expire_all()
    found = list(
        session.scalars(
            select(AuditEntry.client_ip)
            .where(AuditEntry.action == "user.login")
            .order_by(AuditEntry.id)
        )
    )
    session.rollback()
    return found


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(session, clock, trusted_proxies):
    add_user(session, "quantri", Role.admin)
    # From anyone else the header is the client's own words: ignored.
    direct = browser(ATTACKER, **{"X-Forwarded-For": "198.51.100.1"})
    assert sign_in(direct, "quantri", PASSWORD)[0] == 303
    # From the proxy, the last address it did not add itself is the client.
    proxied = browser("10.0.0.2", **{"X-Forwarded-For": "6.6.6.6, 198.51.100.1, 10.0.0.3"})
    assert sign_in(proxied, "quantri", PASSWORD)[0] == 303
    assert _login_addresses(session) == [ATTACKER, "198.51.100.1"]
    # Naming a new address in every try does not escape the delays of the address it is.
    spoofing = browser(ATTACKER)
    statuses = []
    for i in range(ADDRESS_FREE_FAILURES + 2):
        spoofing.headers["X-Forwarded-For"] = f"198.51.100.{100 + i}"
        statuses.append(sign_in(spoofing, f"ai-do-{i}", "sai")[0])
    assert statuses[:ADDRESS_FREE_FAILURES] == [401] * ADDRESS_FREE_FAILURES
    assert statuses[ADDRESS_FREE_FAILURES:] == [429, 429]


def test_the_client_address_of_a_forwarded_chain():
    trusted = parse_networks("10.0.0.0/8,2001:db8::/32")
    assert forwarded_client("203.0.113.9", ["1.2.3.4"], trusted) == "203.0.113.9"
    assert forwarded_client("10.1.1.1", ["1.2.3.4"], trusted) == "1.2.3.4"
    assert forwarded_client("10.1.1.1", ["1.2.3.4, 5.6.7.8", "10.2.2.2"], trusted) == "5.6.7.8"
    assert forwarded_client("10.1.1.1", ["not-an-address, 10.3.3.3"], trusted) == "10.3.3.3"
    assert forwarded_client("10.1.1.1", [], trusted) == "10.1.1.1"
    assert forwarded_client("2001:db8::1", ["2001:db9::7"], trusted) == "2001:db9::7"
    assert forwarded_client("10.1.1.1", ["1.2.3.4"], ()) == "10.1.1.1"
    assert forwarded_client("testclient", ["1.2.3.4"], trusted) == "testclient"
    with pytest.raises(ValueError, match="not an IP address"):
        parse_networks("10.0.0.0/8, proxy.local")
