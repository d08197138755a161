"""Security findings on the web app, each reproduced as the attack was described.

Finding 1: a session cookie or webhook signed with a development default; finding 13: security
headers, the API docs open to anyone, a non-ASCII signature answered 500, phones mangled in CSV
exports, short passwords and no way for staff to change their own.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import itsdangerous
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.config import (
    DEVELOPMENT_SECRET_KEY,
    DEVELOPMENT_TWILIO_AUTH_TOKEN,
    InsecureSettings,
    get_settings,
    is_local_only,
    reset_settings_cache,
)
from robocall.telephony.signature import compute_signature
from robocall.users.login import LoginThrottle
from robocall.users.models import AuditEntry, Role
from robocall.users.service import UserError, create_user
from robocall.web.app import create_app
from tests.web.conftest import LINH_TRUNG, World
from tests.web.helpers import PASSWORD, add_user, csrf_from, signed_in_client

TEMPLATES = Path(__file__).resolve().parents[2] / "robocall" / "web" / "templates"
PUBLIC = "https://robocall.ttyt-thuduc.vn"  # an address the provider and anyone else reaches
STATUS_WEBHOOK = "/webhooks/twilio/status"
STATUS_FORM = {"CallSid": "CA" + "0" * 32, "CallStatus": "completed", "To": "+84912000001"}


@contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Settings from these environment variables (None: unset) for the block."""
    before = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_settings_cache()
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_settings_cache()


def forged_session_cookie(secret_key: str, session: dict[str, object]) -> str:
    """A session cookie as Starlette's SessionMiddleware signs it, with `secret_key`."""
    data = base64.b64encode(json.dumps(session).encode())
    return itsdangerous.TimestampSigner(secret_key).sign(data).decode()


# --- finding 1: development defaults --------------------------------------------------------


def test_a_cookie_signed_with_the_development_key_is_not_accepted_when_production_like(
    session: Session,
):
    admin = add_user(session, "quantri")
    forged = forged_session_cookie(
        DEVELOPMENT_SECRET_KEY, {"uid": admin.id, "sv": admin.session_version}
    )
    # The attack as reported: on the development key the forged cookie is the admin. That is
    # still so on a local-only set-up (these tests' settings), where nobody else can connect.
    # (On PostgreSQL these tests run production-like, with secrets of their own: no such app.)
    if is_local_only(get_settings()):
        local = TestClient(create_app(), base_url="https://robocall.test")
        local.cookies.set("robocall_session", forged)
        assert local.get("/api/me").json()["username"] == "quantri"

    with environment(ROBOCALL_PUBLIC_URL=PUBLIC, ROBOCALL_SECRET_KEY=None):
        with pytest.raises(InsecureSettings, match="ROBOCALL_SECRET_KEY"):
            create_app()  # the app is never built, so it accepts no cookie at all
    strong = {
        "ROBOCALL_SECRET_KEY": secrets.token_urlsafe(32),
        "ROBOCALL_TWILIO_AUTH_TOKEN": secrets.token_hex(16),
    }
    with environment(ROBOCALL_PUBLIC_URL=PUBLIC, **strong):
        client = TestClient(create_app(), base_url=PUBLIC)
        client.cookies.set("robocall_session", forged)
        assert client.get("/api/me").status_code == 401


@pytest.mark.parametrize(
    "production_like",
    [{"ROBOCALL_PUBLIC_URL": PUBLIC}, {"ROBOCALL_TELEPHONY": "twilio"}],
    ids=["public-url", "twilio"],
)
def test_a_webhook_signed_with_the_development_token_is_not_accepted_when_production_like(
    production_like: dict[str, str],
):
    key = secrets.token_urlsafe(32)
    with environment(ROBOCALL_SECRET_KEY=key, ROBOCALL_TWILIO_AUTH_TOKEN=None, **production_like):
        with pytest.raises(InsecureSettings, match="ROBOCALL_TWILIO_AUTH_TOKEN") as refused:
            create_app()
        assert "ROBOCALL_SECRET_KEY" not in str(refused.value)
        assert "\n" not in str(refused.value)
    with environment(
        ROBOCALL_SECRET_KEY=key, ROBOCALL_TWILIO_AUTH_TOKEN=secrets.token_hex(16), **production_like
    ):
        client = TestClient(create_app())
        url = get_settings().public_url + STATUS_WEBHOOK
        forged = compute_signature(DEVELOPMENT_TWILIO_AUTH_TOKEN, url, STATUS_FORM)
        answer = client.post(
            STATUS_WEBHOOK, data=STATUS_FORM, headers={"X-Twilio-Signature": forged}
        )
        assert answer.status_code == 403


# --- finding 13: headers --------------------------------------------------------------------


def _script_src(policy: str) -> str:
    return next(p for p in policy.split(";") if p.strip().startswith("script-src")).strip()


def test_every_page_carries_the_security_headers(session: Session, world: World):
    client = signed_in_client(session, "quantri", Role.admin, None)
    anonymous = TestClient(create_app(), base_url="https://robocall.test")
    answers = [
        client.get("/"),
        client.get("/contacts?q=0912000001"),
        client.get(f"/contacts/{world.trung_contact}"),
        client.get("/admin/users"),
        client.get("/api/me"),
        client.get("/static/robocall.css"),
        client.get("/no-such-page"),
        anonymous.get("/login"),
        anonymous.get("/contacts", follow_redirects=False),
    ]
    for answer in answers:
        headers = answer.headers
        where = f"{answer.request.url} ({answer.status_code})"
        assert _script_src(headers["Content-Security-Policy"]) == "script-src 'self'", where
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], where
        assert headers["X-Frame-Options"] == "DENY", where
        assert headers["X-Content-Type-Options"] == "nosniff", where
        assert headers["Referrer-Policy"] in ("same-origin", "no-referrer"), where
        # The test settings' public URL is https.
        assert headers["Strict-Transport-Security"].startswith("max-age="), where


def test_no_hsts_when_the_public_url_is_plain_http():
    with environment(ROBOCALL_PUBLIC_URL="http://127.0.0.1:8000"):
        answer = TestClient(create_app()).get("/login")
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in answer.headers


def test_templates_hold_no_inline_script_the_policy_would_block():
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag, f"{template.name}: inline script {tag}"
        assert not re.search(r"\son[a-z]+\s*=", text), f"{template.name}: an on* handler"
        assert "javascript:" not in text, template.name


# --- finding 13: the API's docs -------------------------------------------------------------


def test_api_docs_are_for_signed_in_users_only(session: Session, world: World):
    anonymous = TestClient(create_app(), base_url="https://robocall.test")
    assert anonymous.get("/openapi.json").status_code == 401
    docs = anonymous.get("/docs", follow_redirects=False)
    assert docs.status_code == 303 and docs.headers["location"].startswith("/login")
    assert anonymous.get("/redoc").status_code == 404

    client = signed_in_client(session, "quantri", Role.viewer, LINH_TRUNG)
    schema = client.get("/openapi.json")
    assert schema.status_code == 200 and "/api/me" in schema.json()["paths"]
    page = client.get("/docs")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    # Its one inline script runs by its hash; no other inline script would.
    policy = page.headers["Content-Security-Policy"]
    inline = re.search(r"<script>(.*?)</script>", page.text, re.DOTALL)
    assert inline is not None
    digest = base64.b64encode(hashlib.sha256(inline.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in _script_src(policy)
    assert "'unsafe-inline'" not in _script_src(policy)


# --- finding 13: a non-ASCII signature ------------------------------------------------------


def test_a_non_ascii_signature_or_csrf_token_gets_403_not_500(session: Session):
    client = TestClient(create_app(), raise_server_exceptions=False)
    for signature in ("é".encode(), "sig-ñ=".encode("latin-1"), "Chữ ký".encode()):
        answer = client.post(
            STATUS_WEBHOOK, data=STATUS_FORM, headers={"X-Twilio-Signature": signature}
        )
        assert answer.status_code == 403, answer.text

    add_user(session, "quantri")
    browser = TestClient(create_app(), base_url="https://robocall.test", follow_redirects=False)
    browser.get("/login")
    form = {"username": "quantri", "password": PASSWORD, "csrf_token": "mã-sai-é"}
    assert browser.post("/login", data=form).status_code == 403


# --- finding 13: phones in CSV exports ------------------------------------------------------


def test_csv_exports_write_phones_as_they_are_and_still_guard_formulas(
    session: Session, world: World
):
    from robocall.contacts.models import Contact
    from robocall.units.service import get_by_code

    unit = get_by_code(db_session=session, code=LINH_TRUNG)
    assert unit is not None
    evil = '=HYPERLINK("http://x","y")'
    session.add(Contact(unit_id=unit.id, name=evil, match_key="evil", phone="+84912000077"))
    session.add(Contact(unit_id=unit.id, name="+SUM(1)", match_key="plus", phone="+84912000078"))
    session.commit()
    client = signed_in_client(session, "quantri", Role.admin, None)
    answer = client.get("/exports/contacts.csv")
    assert answer.status_code == 200
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    phone_column = rows[0].index("Điện thoại")
    phones = {row[phone_column] for row in rows[1:]}
    assert {"+84912000001", "+84912000002", "+84912000077", "+84912000078"} <= phones
    assert not any(p.startswith("'") for p in phones)
    names = {row[1] for row in rows[1:]}
    assert "'" + evil in names and "'+SUM(1)" in names and evil not in names


# --- finding 13: passwords ------------------------------------------------------------------


def test_passwords_need_twelve_characters(session: Session):
    with pytest.raises(UserError, match="at least 12"):
        create_user(
            db_session=session,
            username="ngan",
            role=Role.admin,
            unit_code=None,
            password="mat-khau-11",
        )


def _login(client: TestClient, username: str, password: str) -> int:
    token = csrf_from(client.get("/login").text)
    form = {"username": username, "password": password, "csrf_token": token, "next": "/"}
    return client.post("/login", data=form, follow_redirects=False).status_code


def test_staff_change_their_own_password_and_other_sessions_end(session: Session, world: World):
    client = signed_in_client(session, "tram.linhtrung", Role.commune, LINH_TRUNG)
    elsewhere = TestClient(create_app(), base_url="https://robocall.test")
    assert _login(elsewhere, "tram.linhtrung", PASSWORD) == 303
    assert 'href="/account/password"' in client.get("/").text  # reachable from every page

    page = client.get("/account/password")
    assert page.status_code == 200
    assert "Đổi mật khẩu" in page.text and "Mật khẩu hiện tại" in page.text
    assert "Change password" in client.get("/account/password?lang=en").text
    token = csrf_from(client.get("/account/password?lang=vi").text)
    new = "mot-mat-khau-moi-dai"

    def change(current: str, new_password: str, again: str) -> tuple[int, str]:
        form = {
            "current_password": current,
            "new_password": new_password,
            "confirm_password": again,
            "csrf_token": token,
        }
        answer = client.post("/account/password", data=form, follow_redirects=False)
        return answer.status_code, answer.headers.get("location") or answer.text

    status, text = change("sai-mat-khau-cu", new, new)
    assert status == 403 and "Mật khẩu hiện tại không đúng" in text
    status, text = change(PASSWORD, "ngan-qua", "ngan-qua")
    assert status == 422 and "ít nhất 12 ký tự" in text
    status, text = change(PASSWORD, new, new + "x")
    assert status == 422 and "không giống nhau" in text
    no_csrf = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": new, "confirm_password": new},
    )
    assert no_csrf.status_code == 403
    # The wrong current password counted, as a wrong one at sign-in does.
    assert LoginThrottle.shared().failures("tram.linhtrung") == 1

    status, location = change(PASSWORD, new, new)
    assert status == 303
    done = client.get(location)
    assert done.status_code == 200 and "Đã đổi mật khẩu" in done.text  # still signed in here
    assert client.get("/api/me").status_code == 200
    assert elsewhere.get("/api/me").status_code == 401  # the other browser was signed out
    fresh = TestClient(create_app(), base_url="https://robocall.test")
    assert _login(fresh, "tram.linhtrung", PASSWORD) == 401
    assert _login(fresh, "tram.linhtrung", new) == 303
    session.expire_all()
    actions = session.scalars(select(AuditEntry.action)).all()
    assert "user.password_change" in actions


def test_the_password_page_needs_a_signed_in_user():
    anonymous = TestClient(create_app(), base_url="https://robocall.test")
    answer = anonymous.get("/account/password", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
