"""Finding 11: reads of health data were not audited, reproduced as reported.

"Unaudited: GET /api/reports, /api/reports/{id}, /api/campaigns/{id}/results,
/api/imports/{id}, the contacts search, the reports list and the dashboard."

Each read must leave who, what, when and from where; the audit page finds them by user,
action, object and day.
"""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.users.models import AuditEntry, Role
from robocall.users.service import create_api_token
from robocall.web.app import create_app
from tests.web.conftest import LINH_TRUNG, World
from tests.web.helpers import PASSWORD, add_user, csrf_from

SCRIPT_ADDRESS = "192.0.2.44"
OFFICE_ADDRESS = "192.0.2.45"
SMALL_LIST = "Họ tên,Số điện thoại,Xã\nPhạm Văn Cường,0912000009,Linh Trung\n".encode()


def _entries(session: Session) -> list[AuditEntry]:
    session.expire_all()
    found = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    session.rollback()
    return found


def _one(
    entries: list[AuditEntry], username: str, action: str, object_id: object = None
) -> AuditEntry:
    matching = [
        e
        for e in entries
        if e.username == username
        and e.action == action
        and (object_id is None or e.object_id == str(object_id))
    ]
    assert len(matching) == 1, (action, object_id, [(e.action, e.object_id) for e in entries])
    return matching[0]


def test_each_read_of_personal_data_leaves_an_audit_entry(session: Session, world: World):
    script_user = add_user(session, "script", Role.admin)
    token = create_api_token(db_session=session, user=script_user, name="bao-cao")
    session.commit()
    script = TestClient(
        create_app(),
        base_url="https://robocall.test",
        client=(SCRIPT_ADDRESS, 40000),
        headers={"Authorization": f"Bearer {token}"},
    )
    imported = script.post(
        "/api/imports",
        data={"unit": LINH_TRUNG, "classification": "F1"},
        files={"file": ("ds.csv", SMALL_LIST)},
    )
    assert imported.status_code == 200, imported.text
    batch_id = imported.json()["batch_id"]
    created = script.post("/api/campaigns", json={"preset": "f1_tracing_call", "unit": LINH_TRUNG})
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    assert script.post(f"/api/campaigns/{campaign_id}/start").status_code == 200

    assert script.get("/api/reports").status_code == 200
    assert script.get(f"/api/reports/{world.trung_urgent}").status_code == 200
    results = script.get(f"/api/campaigns/{campaign_id}/results")
    assert results.status_code == 200 and results.json()
    assert script.get(f"/api/imports/{batch_id}").status_code == 200

    add_user(session, "quantri", Role.admin)
    office = TestClient(
        create_app(), base_url="https://robocall.test", client=(OFFICE_ADDRESS, 40001)
    )
    signed_in = office.post(
        "/login",
        data={
            "username": "quantri",
            "password": PASSWORD,
            "csrf_token": csrf_from(office.get("/login").text),
        },
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    assert office.get("/contacts", params={"q": "0912 000 001"}).status_code == 200
    assert office.get("/reports").status_code == 200
    assert office.get("/").status_code == 200

    entries = _entries(session)
    by_script = [
        _one(entries, "script", "report.list"),
        _one(entries, "script", "report.view", world.trung_urgent),
        _one(entries, "script", "campaign.results", campaign_id),
        _one(entries, "script", "import.view", batch_id),
    ]
    for entry in by_script:
        assert entry.username == "script" and entry.client_ip == SCRIPT_ADDRESS, entry.action
        assert entry.at is not None
    assert by_script[0].object_type == "report"
    assert world.trung_urgent in by_script[0].detail["ids"]  # which reports the list showed
    assert by_script[1].object_type == "report"
    assert by_script[2].object_type == "campaign"
    assert by_script[2].detail["returned"] == len(results.json())
    assert by_script[3].object_type == "import"
    # Entries whose code names no address get the request's all the same.
    assert _one(entries, "script", "campaign.start", campaign_id).client_ip == SCRIPT_ADDRESS

    page_reads = [e for e in entries if e.username == "quantri" and e.action != "user.login"]
    assert {e.action for e in page_reads} == {"contact.list", "report.list", "dashboard.view"}
    for entry in page_reads:
        assert entry.client_ip == OFFICE_ADDRESS, entry.action
    search = next(e for e in page_reads if e.action == "contact.list")
    assert search.object_type == "contact" and search.detail["search"] is True
    assert world.trung_contact in search.detail["ids"]
    assert "000 001" not in str(search.detail)  # the phone searched for is not kept
    dashboard = next(e for e in page_reads if e.action == "dashboard.view")
    assert world.trung_urgent in dashboard.detail["ids"]  # the urgent reports it showed


def _audit_rows(client: TestClient, query: str) -> list[str]:
    page = client.get(f"/admin/audit{query}")
    assert page.status_code == 200, page.text
    return [mark for mark in ("e1", "e2", "e3") if f"mark={mark}" in page.text]


def test_the_audit_page_filters_by_user_action_object_and_day(session: Session, world: World):
    add_user(session, "quantri", Role.admin)
    utc = dt.UTC
    session.add_all(
        [
            AuditEntry(
                at=dt.datetime(2021, 8, 1, 3, 0, tzinfo=utc),  # 10:00 on 01/08 in Hanoi time
                username="quantri",
                action="contact.view",
                object_type="contact",
                object_id="7",
                detail={"mark": "e1"},
                client_ip="192.0.2.1",
            ),
            AuditEntry(
                at=dt.datetime(2021, 8, 2, 16, 30, tzinfo=utc),  # 23:30 on 02/08
                username="linhtrung",
                action="report.view",
                object_type="report",
                object_id="12",
                detail={"mark": "e2"},
                client_ip="192.0.2.2",
            ),
            AuditEntry(
                at=dt.datetime(2021, 8, 2, 17, 30, tzinfo=utc),  # 00:30 on 03/08
                username="linhtrung",
                action="report.view",
                object_type="report",
                object_id="13",
                detail={"mark": "e3"},
                client_ip="192.0.2.3",
            ),
        ]
    )
    session.commit()
    client = TestClient(create_app(), base_url="https://robocall.test")
    client.post(
        "/login",
        data={
            "username": "quantri",
            "password": PASSWORD,
            "csrf_token": csrf_from(client.get("/login").text),
        },
    )
    assert _audit_rows(client, "") == ["e1", "e2", "e3"]
    assert _audit_rows(client, "?user=LinhTrung") == ["e2", "e3"]
    assert _audit_rows(client, "?action=contact.view") == ["e1"]
    assert _audit_rows(client, "?object_type=report&object_id=12") == ["e2"]
    assert _audit_rows(client, "?from=02/08/2021&to=02/08/2021") == ["e2"]
    assert _audit_rows(client, "?from=2/8/2021") == ["e2", "e3"]
    assert _audit_rows(client, "?to=01/08/2021&user=quantri") == ["e1"]

    page = client.get("/admin/audit").text
    assert 'name="from"' in page and 'name="to"' in page
    assert 'type="date"' not in page  # typed as dd/mm/yyyy, whatever the browser's locale
    assert "Từ ngày" in page and "Người thực hiện" in page
    english = client.get("/admin/audit?lang=en").text
    assert "From" in english and "Object id" in english
    bad = client.get("/admin/audit?from=31/02/2021")
    assert bad.status_code == 422 and "dd/mm/yyyy" in bad.text
