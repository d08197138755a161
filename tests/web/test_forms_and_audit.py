"""Forms need the session's CSRF token; wrong passwords slow sign-in; audited actions leave
entries."""

from __future__ import annotations

import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from robocall.contacts.models import Contact, OptOut
from robocall.hotline.models import HotlineReport, ReportStatus
from robocall.users.login import ACCOUNT_FREE_FAILURES
from robocall.users.models import AuditEntry, Role, User
from tests.web.conftest import LINH_TRUNG, World
from tests.web.helpers import PASSWORD, add_user, csrf_from, page_csrf, signed_in_client

SMALL_LIST = "Họ tên,Số điện thoại,Xã\nPhạm Văn Cường,0912000009,Linh Trung\n".encode()


def _actions(session: Session) -> list[str]:
    session.expire_all()
    actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    session.rollback()
    return actions


def test_form_posts_without_the_csrf_token_are_refused_and_change_nothing(session, world: World):
    client = signed_in_client(session, "quantri", Role.admin, None)
    good = page_csrf(client)
    for path, data in [
        (f"/reports/{world.trung_urgent}/acknowledge", {}),
        (f"/reports/{world.trung_urgent}/close", {}),
        ("/opt-outs", {"phone": "0912000001"}),
        ("/admin/users", {"username": "moi", "role": "viewer", "password": PASSWORD}),
        ("/upload/confirm", {"token": "x"}),
        ("/logout", {}),
    ]:
        for token in (None, "wrong-token"):
            sent = dict(data, csrf_token=token) if token else data
            response = client.post(path, data=sent, follow_redirects=False)
            assert response.status_code == 403, (path, token, response.text)
    refused = client.post(
        "/upload", data={"unit": LINH_TRUNG}, files={"file": ("ds.csv", SMALL_LIST)}
    )
    assert refused.status_code == 403
    session.expire_all()
    assert session.get(HotlineReport, world.trung_urgent).status is ReportStatus.new
    assert session.scalar(select(func.count()).select_from(OptOut)) == 0
    assert session.scalar(select(User.id).where(User.username == "moi")) is None
    session.rollback()
    # Still signed in (the sign-out was refused too), and the right token works.
    assert client.get("/", follow_redirects=False).status_code == 200
    done = client.post(
        f"/reports/{world.trung_urgent}/acknowledge",
        data={"csrf_token": good},
        follow_redirects=False,
    )
    assert done.status_code == 303


def test_a_cookie_session_calling_the_api_needs_the_csrf_header(session, world: World):
    client = signed_in_client(session, "quantri", Role.admin, None)
    assert client.post(f"/api/reports/{world.trung_urgent}/acknowledge").status_code == 403
    response = client.post(
        f"/api/reports/{world.trung_urgent}/acknowledge",
        headers={"X-CSRF-Token": page_csrf(client)},
    )
    assert response.status_code == 200 and response.json()["status"] == "acknowledged"


def test_wrong_passwords_slow_sign_in_until_an_administrator_lifts_it(session, world: World):
    from fastapi.testclient import TestClient

    from robocall.web.app import create_app

    add_user(session, "linhtrung", Role.commune, LINH_TRUNG)
    client = TestClient(create_app(), base_url="https://robocall.test")
    for attempt in range(ACCOUNT_FREE_FAILURES + 1):
        token = csrf_from(client.get("/login").text)
        response = client.post(
            "/login",
            data={"username": "linhtrung", "password": "sai-mat-khau", "csrf_token": token},
        )
        assert response.status_code == (429 if attempt == ACCOUNT_FREE_FAILURES else 401)
    token = csrf_from(client.get("/login").text)
    slowed = client.post(
        "/login",
        data={"username": "linhtrung", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert slowed.status_code == 429 and "Retry-After" in slowed.headers
    for path in ("/", "/contacts", f"/contacts/{world.trung_contact}", "/upload"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    # An administrator sees the lock and lifts it from the users page.
    admin = signed_in_client(session, "quantri", Role.admin, None)
    users_page = admin.get("/admin/users").text
    assert "/unlock" in users_page
    locked_id = session.scalar(select(User.id).where(User.username == "linhtrung"))
    session.rollback()
    admin.post(f"/admin/users/{locked_id}/unlock", data={"csrf_token": page_csrf(admin)})
    token = csrf_from(client.get("/login").text)
    again = client.post(
        "/login",
        data={"username": "linhtrung", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert again.status_code == 303


def test_each_audited_action_writes_an_entry(session, world: World, redis_url):
    from robocall.processes import make_worker

    client = signed_in_client(session, "quantri", Role.admin, None)
    csrf = page_csrf(client)
    assert "user.login" in _actions(session)

    client.get(f"/contacts/{world.trung_contact}")
    client.get(f"/api/contacts/{world.trung_contact}")
    client.get("/api/contacts")
    client.get(f"/reports/{world.trung_urgent}")
    client.post(f"/reports/{world.trung_urgent}/acknowledge", data={"csrf_token": csrf})
    client.post(f"/reports/{world.trung_urgent}/close", data={"csrf_token": csrf})
    client.get("/exports/contacts.xlsx")
    client.get("/exports/reports.csv")
    client.post("/opt-outs", data={"csrf_token": csrf, "phone": "0912000001", "reason": "SMS"})

    preview = client.post(
        "/upload",
        data={"csrf_token": csrf, "unit": LINH_TRUNG, "classification": "F1"},
        files={"file": ("ds.csv", SMALL_LIST)},
    )
    assert preview.status_code == 200 and "Phạm Văn Cường" in preview.text
    token = preview.text.split('name="token" value="')[1].split('"')[0]
    confirmed = client.post(
        "/upload/confirm", data={"csrf_token": csrf, "token": token}, follow_redirects=False
    )
    assert confirmed.status_code == 303
    make_worker(["imports"]).work(burst=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = client.get(f"/upload/status/{token}/progress").json()
        if status["state"] == "done":
            break
        time.sleep(0.1)
    assert status["state"] == "done" and status["created"] == 1
    client.get(f"/api/imports/{status['batch_id']}/report.xlsx")

    # An export prepared by the worker: audited when it is downloaded, then gone.
    prepared = client.post(
        "/exports/situation/prepare",
        data={"csrf_token": csrf, "fmt": "xlsx", "unit": LINH_TRUNG},
        follow_redirects=False,
    )
    assert prepared.status_code == 303
    export_page = prepared.headers["location"]
    make_worker(["exports"]).work(burst=True)
    assert 'id="export-file"' in client.get(export_page).text
    first = client.get(f"{export_page}/file")
    assert first.status_code == 200 and first.content.startswith(b"PK")
    assert client.get(f"{export_page}/file").status_code == 410

    actions = _actions(session)
    for expected in (
        "contact.view",
        "contact.list",
        "report.view",
        "report.acknowledge",
        "report.close",
        "export.download",
        "optout.add",
        "import.create",
        "import.report_download",
    ):
        assert expected in actions, (expected, actions)
    assert actions.count("export.download") == 3
    assert actions.count("contact.view") == 2
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "import.create"))
    assert entry.username == "quantri" and entry.detail["created"] == 1
    assert session.scalar(select(Contact.id).where(Contact.name == "Phạm Văn Cường")) is not None
    session.rollback()
    # The administrator reads them in the UI.
    audit = client.get("/admin/audit").text
    assert "report.acknowledge" in audit and "export.download" in audit
