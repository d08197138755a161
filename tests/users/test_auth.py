"""Staff sign-in: passwords, delays after wrong ones, CSRF, API tokens, scoping and audit
entries."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from robocall.cli import app as cli_app
from robocall.units.service import ensure_sample_units, get_by_code
from robocall.users.login import (
    ACCOUNT_FREE_FAILURES,
    FIRST_DELAY,
    MAX_DELAY,
    LoginRefused,
    authenticate,
)
from robocall.users.models import AuditEntry, Role, User
from robocall.users.service import (
    UserError,
    create_api_token,
    create_user,
    scope_of,
)
from robocall.web.app import create_app

PASSWORD = "dung-mat-khau-1"


@pytest.fixture
def units(session):
    ensure_sample_units(db_session=session)
    session.commit()


@pytest.fixture
def client():
    with TestClient(create_app(), base_url="https://robocall.test") as c:
        yield c


def add_user(session, username="linhtrung", role=Role.commune, unit="26794"):
    user = create_user(
        db_session=session, username=username, role=role, unit_code=unit, password=PASSWORD
    )
    session.commit()
    return user


def csrf_from(page_html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page_html)
    assert match, page_html
    return match.group(1)


def login(client, username, password):
    token = csrf_from(client.get("/login").text)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/api/me"},
        follow_redirects=False,
    )


def test_role_must_fit_the_unit_level(session, units):
    with pytest.raises(UserError, match="a commune user belongs to a commune; 769 is a district"):
        create_user(
            db_session=session,
            username="x1x",
            role=Role.commune,
            unit_code="769",
            password=PASSWORD,
        )
    with pytest.raises(UserError, match="unit: no unit with code '999'"):
        create_user(
            db_session=session, username="x2x", role=Role.viewer, unit_code="999", password=PASSWORD
        )
    with pytest.raises(UserError, match="password: at least 12"):
        create_user(
            db_session=session, username="x3x", role=Role.admin, unit_code=None, password="short"
        )


def test_district_user_sees_its_communes_and_commune_user_only_its_own(session, units):
    district = add_user(session, "thuduc", Role.district, "769")
    commune = add_user(session, "linhtrung", Role.commune, "26794")
    admin = add_user(session, "admin", Role.admin, None)
    linh_trung = get_by_code(db_session=session, code="26794").id
    linh_chieu = get_by_code(db_session=session, code="26800").id
    assert scope_of(db_session=session, user=district).allows(linh_chieu)
    assert scope_of(db_session=session, user=commune).allows(linh_trung)
    assert not scope_of(db_session=session, user=commune).allows(linh_chieu)
    assert scope_of(db_session=session, user=admin).allows(None)


def test_login_sets_a_session_that_the_api_accepts(client, session, units):
    add_user(session)
    response = login(client, "LinhTrung", PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/api/me"
    me = client.get("/api/me").json()
    assert me == {"username": "linhtrung", "full_name": "", "role": "commune", "unit": "26794"}
    audit = session.scalars(select(AuditEntry.action)).all()
    assert "user.login" in audit


def test_form_posts_without_the_csrf_token_are_refused(client, session, units):
    add_user(session)
    client.get("/login")
    response = client.post("/login", data={"username": "linhtrung", "password": PASSWORD})
    assert response.status_code == 403
    forged = client.post(
        "/login", data={"username": "linhtrung", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert forged.status_code == 403
    assert client.get("/api/me").status_code == 401
    assert login(client, "linhtrung", PASSWORD).status_code == 303
    # Signed in, sign-out still needs the token.
    assert client.post("/logout", data={}).status_code == 403
    assert client.get("/api/me").status_code == 200


def test_repeated_wrong_passwords_slow_the_next_tries(client, session, units):
    add_user(session)
    for _ in range(ACCOUNT_FREE_FAILURES):
        assert login(client, "linhtrung", "wrong-password").status_code == 401
    slowed = login(client, "linhtrung", "wrong-password")
    assert slowed.status_code == 429
    assert "Đã thử quá nhiều lần" in slowed.text and slowed.headers["Retry-After"] == "1"
    # Until the wait is over, a try from here is not judged, even with the right password.
    assert login(client, "linhtrung", PASSWORD).status_code == 429
    assert client.get("/api/me").status_code == 401


def test_the_delays_double_up_to_a_cap_and_then_the_right_password_works(session, units):
    add_user(session)
    now = dt.datetime(2021, 8, 1, 8, 0, tzinfo=dt.UTC)

    def attempt(password: str) -> float | None:
        """None when signed in; else the seconds to wait (0: a plain wrong password)."""
        try:
            authenticate(
                db_session=session,
                username="linhtrung",
                password=password,
                address="10.0.0.1",
                now=now,
            )
        except LoginRefused as refused:
            return refused.retry_after or 0.0
        return None

    for _ in range(ACCOUNT_FREE_FAILURES):
        assert attempt("nope-nope") == 0.0
    waits = []
    for _ in range(12):
        wait = attempt("nope-nope")
        assert wait  # must wait: not judged
        waits.append(wait)
        now += dt.timedelta(seconds=wait)  # the clock moves; nobody sleeps
        assert attempt("nope-nope") == 0.0  # judged (and wrong) once the wait is over
    assert waits[:4] == [FIRST_DELAY, 2 * FIRST_DELAY, 4 * FIRST_DELAY, 8 * FIRST_DELAY]
    assert max(waits) == MAX_DELAY and waits[-1] == MAX_DELAY
    wait = attempt(PASSWORD)
    assert wait == MAX_DELAY
    now += dt.timedelta(seconds=wait)
    assert attempt(PASSWORD) is None


def test_sign_out_ends_every_session_of_the_user(session, units):
    add_user(session)
    with (
        TestClient(create_app(), base_url="https://robocall.test") as phone,
        TestClient(create_app(), base_url="https://robocall.test") as laptop,
    ):
        login(phone, "linhtrung", PASSWORD)
        login(laptop, "linhtrung", PASSWORD)
        token = csrf_from(phone.get("/login").text)
        assert (
            phone.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code
            == 303
        )
        assert phone.get("/api/me").status_code == 401
        assert laptop.get("/api/me").status_code == 401
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions.count("user.logout") == 1


def test_api_tokens_authenticate_scripts(client, session, units):
    user = add_user(session, "script", Role.viewer, "769")
    token = create_api_token(db_session=session, user=user, name="export")
    session.commit()
    assert (
        client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()["role"]
        == "viewer"
    )
    assert client.get("/api/me", headers={"Authorization": "Bearer rc_wrong"}).status_code == 401


def test_login_never_redirects_to_another_site(client, session, units):
    add_user(session)
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login",
        data={
            "username": "linhtrung",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "https://evil.example/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_pages_redirect_to_login_in_vietnamese_with_an_english_switch(client):
    page = client.get("/login")
    assert "Đăng nhập" in page.text and "Mật khẩu" in page.text
    assert "Password" in client.get("/login?lang=en").text


def test_cli_adds_a_user_with_a_generated_password_shown_once(session, units):
    result = CliRunner().invoke(
        cli_app,
        ["users", "add", "Tram.LinhChieu", "--role", "commune", "--unit", "26800", "--generate"],
    )
    assert result.exit_code == 0, result.output
    password = re.search(r"password \(shown once\): (\S+)", result.stdout).group(1)
    session.expire_all()
    user = session.scalar(select(User).where(User.username == "tram.linhchieu"))
    assert user.unit.code == "26800"
    assert authenticate(db_session=session, username="tram.linhchieu", password=password) == user
    assert password not in user.password_hash
    session.commit()
    refused = CliRunner().invoke(
        cli_app, ["users", "add", "someone", "--role", "district", "--unit", "26800", "--generate"]
    )
    assert refused.exit_code == 2
    assert "a district user belongs to a district" in refused.output
