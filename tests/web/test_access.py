"""Every page and API is scoped: another unit's contact or report is 404, above the role is 403."""

from __future__ import annotations

from sqlalchemy import select

from robocall.hotline.models import HotlineReport, ReportStatus
from robocall.users.models import Role
from tests.web.conftest import DISTRICT, LINH_CHIEU, LINH_TRUNG, World
from tests.web.helpers import api_client, page_csrf, signed_in_client


def test_a_commune_user_sees_only_their_commune_in_pages(session, world: World):
    client = signed_in_client(session, "linhtrung", Role.commune, LINH_TRUNG)
    contacts = client.get("/contacts").text
    assert "Nguyễn Văn An" in contacts and "Lê Thị Bình" not in contacts
    assert client.get(f"/contacts/{world.trung_contact}").status_code == 200
    other = client.get(f"/contacts/{world.chieu_contact}")
    assert other.status_code == 404 and "Lê Thị Bình" not in other.text
    # Searching for the other commune's person by name or by phone finds nobody.
    assert "Lê Thị Bình" not in client.get("/contacts", params={"q": "Bình"}).text
    assert "Lê Thị Bình" not in client.get("/contacts", params={"q": "0912000002"}).text
    assert client.get("/contacts", params={"unit": LINH_CHIEU}).status_code == 422

    reports = client.get("/reports").text
    assert f"/reports/{world.trung_urgent}" in reports
    assert f"/reports/{world.chieu_report}" not in reports
    assert client.get(f"/reports/{world.chieu_report}").status_code == 404
    csrf = page_csrf(client)
    refused = client.post(f"/reports/{world.chieu_report}/acknowledge", data={"csrf_token": csrf})
    assert refused.status_code == 404
    session.expire_all()
    assert session.get(HotlineReport, world.chieu_report).status is ReportStatus.new
    session.rollback()  # SQLite: let the app write again

    dashboard = client.get("/").text
    assert "Phường Linh Trung" in dashboard and "Phường Linh Chiểu" not in dashboard
    # Nor in the downloads.
    csv = client.get("/exports/contacts.csv").content.decode("utf-8-sig")
    assert "Nguyễn Văn An" in csv and "Lê Thị Bình" not in csv
    assert client.get("/exports/contacts.csv", params={"unit": LINH_CHIEU}).status_code == 404
    refused = client.post(
        "/exports/contacts/prepare", data={"csrf_token": csrf, "fmt": "xlsx", "unit": LINH_CHIEU}
    )
    assert refused.status_code == 404
    # Another user's prepared export is not theirs to follow or take.
    admin = signed_in_client(session, "quantri", Role.admin, None)
    queued = admin.post(
        "/exports/contacts/prepare",
        data={"csrf_token": page_csrf(admin), "fmt": "csv"},
        follow_redirects=False,
    )
    assert client.get(queued.headers["location"]).status_code == 404
    assert client.get(queued.headers["location"] + "/file").status_code == 404
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/audit").status_code == 403


def test_a_commune_user_sees_only_their_commune_in_the_api(session, world: World):
    client = api_client(session, "linhtrung", Role.commune, LINH_TRUNG)
    names = [c["name"] for c in client.get("/api/contacts").json()["items"]]
    assert "Nguyễn Văn An" in names and "Lê Thị Bình" not in names
    assert client.get(f"/api/contacts/{world.trung_contact}").status_code == 200
    assert client.get(f"/api/contacts/{world.chieu_contact}").status_code == 404
    assert client.get("/api/contacts", params={"unit": LINH_CHIEU}).status_code == 422
    csv = client.get("/api/exports/contacts.csv").content.decode("utf-8-sig")
    assert "Nguyễn Văn An" in csv and "Lê Thị Bình" not in csv
    assert client.get("/api/exports/contacts.csv", params={"unit": LINH_CHIEU}).status_code == 404
    ids = [r["id"] for r in client.get("/api/reports").json()["items"]]
    assert world.trung_urgent in ids and world.chieu_report not in ids
    assert client.get(f"/api/reports/{world.chieu_report}").status_code == 404
    assert client.post(f"/api/reports/{world.chieu_report}/close").status_code == 404
    # An import into another commune is refused and writes nothing.
    refused = client.post(
        "/api/imports",
        files={"file": ("ds.csv", "Họ tên,SĐT\nPhạm Văn Cường,0912000009\n".encode())},
        data={"unit": LINH_CHIEU},
    )
    assert refused.status_code == 404
    assert client.get("/api/contacts", params={"q": "Cường"}).json()["total"] == 0


def test_a_district_user_sees_its_communes_and_a_viewer_may_only_read(session, world: World):
    district = api_client(session, "thuduc", Role.district, DISTRICT)
    names = {c["name"] for c in district.get("/api/contacts").json()["items"]}
    assert {"Nguyễn Văn An", "Lê Thị Bình"} <= names
    viewer = api_client(session, "xem", Role.viewer, DISTRICT)
    assert viewer.get(f"/api/reports/{world.chieu_report}").status_code == 200
    assert viewer.post(f"/api/reports/{world.chieu_report}/acknowledge").status_code == 403
    refused = viewer.post("/api/imports", files={"file": ("ds.csv", "Họ tên\nAi Đó\n".encode())})
    assert refused.status_code == 403
    status = session.scalar(
        select(HotlineReport.status).where(HotlineReport.id == world.chieu_report)
    )
    assert status is ReportStatus.new


def test_a_viewer_is_refused_the_pages_forms(session, world: World):
    client = signed_in_client(session, "xem", Role.viewer, DISTRICT)
    csrf = page_csrf(client)
    page = client.get("/reports").text
    assert "acknowledge" not in page  # no buttons offered
    response = client.post(f"/reports/{world.trung_urgent}/acknowledge", data={"csrf_token": csrf})
    assert response.status_code == 403
    response = client.post("/opt-outs", data={"csrf_token": csrf, "phone": "0912000001"})
    assert response.status_code == 403


def test_nobody_signed_in_gets_401_from_the_api_and_the_login_page_from_pages(world: World):
    from fastapi.testclient import TestClient

    from robocall.web.app import create_app

    client = TestClient(create_app(), base_url="https://robocall.test")
    for path in (
        "/api/contacts",
        f"/api/contacts/{world.trung_contact}",
        "/api/reports",
        "/api/exports/contacts.xlsx",
    ):
        assert client.get(path).status_code == 401
    assert client.post("/api/imports", files={"file": ("a.csv", b"x")}).status_code == 401
    for path in ("/", "/contacts", "/reports", "/exports/contacts.xlsx", "/admin/audit"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
