"""Finding 10: API tokens never expired and could not be revoked, reproduced as reported.

"A token kept working after its user's password was changed."
"""

from __future__ import annotations

import datetime as dt
import os
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from robocall.cli import app as cli_app
from robocall.config import reset_settings_cache
from robocall.db import utcnow
from robocall.units.service import ensure_sample_units
from robocall.users.models import ApiToken, AuditEntry, Role, User
from robocall.users.service import create_api_token
from robocall.web.app import create_app
from tests.web.helpers import PASSWORD, add_user, csrf_from, page_csrf, signed_in_client

LINH_TRUNG = "26794"


@pytest.fixture
def units(session: Session) -> None:
    ensure_sample_units(db_session=session)
    session.commit()


def token_for(session: Session, user: User, **options: Any) -> str:
    token = create_api_token(db_session=session, user=user, name="bao-cao", **options)
    session.commit()
    return token


def works(token: str) -> bool:
    client = TestClient(create_app(), base_url="https://robocall.test")
    answer = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code in (200, 401), answer.text
    return answer.status_code == 200


def test_a_token_expires_after_the_configured_days(session: Session, units: None):
    user = add_user(session, "script", Role.viewer, LINH_TRUNG)
    made = utcnow()
    fresh = token_for(session, user, now=made)
    stored = session.scalar(select(ApiToken).order_by(ApiToken.id.desc()))
    assert stored is not None and stored.expires_at - stored.created_at == dt.timedelta(days=90)
    session.rollback()  # SQLite: an open transaction here would keep the app from writing
    assert works(fresh)
    old = token_for(session, user, now=made - dt.timedelta(days=90, seconds=1))
    assert not works(old)
    os.environ["ROBOCALL_API_TOKEN_DAYS"] = "7"
    reset_settings_cache()
    try:
        week = token_for(session, user, now=made - dt.timedelta(days=6))
        past_week = token_for(session, user, now=made - dt.timedelta(days=7, seconds=1))
    finally:
        os.environ.pop("ROBOCALL_API_TOKEN_DAYS")
        reset_settings_cache()
    assert works(week) and not works(past_week)


def test_a_password_changed_on_the_cli_revokes_the_users_tokens(session: Session, units: None):
    user = add_user(session, "linhtrung", Role.commune, LINH_TRUNG)
    token = token_for(session, user)
    assert works(token)
    result = CliRunner().invoke(cli_app, ["users", "password", "linhtrung"])
    assert result.exit_code == 0, result.output
    assert "API tokens revoked: 1" in result.stdout
    assert not works(token)


def test_a_password_changed_on_the_account_page_revokes_the_users_tokens(
    session: Session, units: None
):
    client = signed_in_client(session, "linhtrung", Role.commune, LINH_TRUNG)
    user = session.scalar(select(User).where(User.username == "linhtrung"))
    assert user is not None
    token = token_for(session, user)  # commits
    assert works(token)
    new = "mot-mat-khau-moi-dai"
    changed = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": new,
            "confirm_password": new,
            "csrf_token": csrf_from(client.get("/account/password").text),
        },
        follow_redirects=False,
    )
    assert changed.status_code == 303, changed.text
    assert not works(token)


def test_deactivating_a_user_revokes_their_tokens_for_good(session: Session, units: None):
    admin = signed_in_client(session, "quantri", Role.admin, None)
    user = add_user(session, "linhtrung", Role.commune, LINH_TRUNG)
    token = token_for(session, user)
    csrf = page_csrf(admin)
    deactivated = admin.post(
        f"/admin/users/{user.id}/deactivate", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert deactivated.status_code == 303
    assert not works(token)
    admin.post(f"/admin/users/{user.id}/activate", data={"csrf_token": csrf})
    assert not works(token)  # activating the account again does not bring the token back


def test_tokens_are_listed_and_revoked_on_the_cli(session: Session, units: None):
    user = add_user(session, "script", Role.viewer, LINH_TRUNG)
    runner = CliRunner()
    made = runner.invoke(cli_app, ["users", "token", "script", "--name", "xuat-bao-cao"])
    assert made.exit_code == 0, made.output
    first = re.search(r"\(shown once\): (\S+)", made.stdout)
    assert first is not None
    second = token_for(session, user)
    listed = runner.invoke(cli_app, ["users", "token", "--list", "script"])
    assert listed.exit_code == 0, listed.output
    assert "xuat-bao-cao" in listed.stdout and listed.stdout.count("in use") == 2
    session.expire_all()
    first_id = session.scalar(select(ApiToken.id).where(ApiToken.name == "xuat-bao-cao"))
    session.rollback()
    revoked = runner.invoke(cli_app, ["users", "token", "--revoke", str(first_id)])
    assert revoked.exit_code == 0, revoked.output
    assert not works(first.group(1))
    assert works(second)  # only that one
    assert "revoked" in runner.invoke(cli_app, ["users", "token", "--list", "script"]).stdout
    missing = runner.invoke(cli_app, ["users", "token", "--revoke", "999999"])
    assert missing.exit_code == 2
    session.expire_all()
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert "user.token" in actions and "user.token_revoke" in actions


def test_an_administrator_revokes_a_token_on_the_users_page(session: Session, units: None):
    admin = signed_in_client(session, "quantri", Role.admin, None)
    user = add_user(session, "script", Role.viewer, LINH_TRUNG)
    token = token_for(session, user)
    page = admin.get("/admin/users")
    assert "Mã truy cập API" in page.text and "bao-cao" in page.text
    assert "API tokens" in admin.get("/admin/users?lang=en").text
    token_id = session.scalar(select(ApiToken.id))
    session.rollback()
    commune = signed_in_client(session, "linhtrung", Role.commune, LINH_TRUNG)
    refused = commune.post(
        f"/admin/tokens/{token_id}/revoke", data={"csrf_token": page_csrf(commune)}
    )
    assert refused.status_code == 403 and works(token)
    done = admin.post(
        f"/admin/tokens/{token_id}/revoke",
        data={"csrf_token": page_csrf(admin)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert not works(token)
    assert "bao-cao" not in admin.get("/admin/users").text  # only tokens in use are listed
    session.expire_all()
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "user.token_revoke"))
    assert entry is not None and entry.username == "quantri" and entry.object_id == str(token_id)
