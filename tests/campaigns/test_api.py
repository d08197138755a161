"""/api/campaigns: signed-in users, roles and unit scope."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from robocall.campaigns.models import Campaign, CampaignStatus, Target
from robocall.units.models import Unit
from robocall.users.models import Role
from robocall.users.service import create_api_token, create_user
from robocall.web.app import create_app

PASSWORD = "a-long-password-1"


@pytest.fixture
def client():
    with TestClient(create_app()) as test_client:
        yield test_client


def _token(session, username: str, role: Role, unit: str | None) -> dict[str, str]:
    user = create_user(
        db_session=session, username=username, role=role, unit_code=unit, password=PASSWORD
    )
    token = create_api_token(db_session=session, user=user, name="api")
    session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_campaigns_need_a_signed_in_user(client, commune):
    assert client.get("/api/campaigns").status_code == 401
    assert client.post("/api/campaigns", json={"preset": "f1_tracing_call"}).status_code == 401


def test_create_start_pause_resume_cancel_and_read(client, session, commune, add_contact):
    add_contact("Nguyễn Văn An", "+84912000001")
    add_contact("Trần Thị Bình", None)
    session.commit()
    staff = _token(session, "district.staff", Role.district, "769")
    created = client.post(
        "/api/campaigns",
        headers=staff,
        json={"preset": "f1_tracing_call", "unit": commune.code, "cps": 2, "retry_delay": "10m"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "draft" and body["kind"] == "call_then_sms"
    assert body["retry_delays"] == {"busy": 600, "no_answer": 600, "failed": 600, "machine": 600}
    cid = body["id"]
    estimate = client.get(f"/api/campaigns/{cid}/sms-estimate", headers=staff).json()
    assert estimate["messages"] == 1 and estimate["encoding"] == {"ucs2": 1}
    assert estimate["estimated_cost"] == estimate["segments"] * estimate["price_per_segment"]
    assert client.post(f"/api/campaigns/{cid}/start", headers=staff).json()["status"] == "running"
    assert client.post(f"/api/campaigns/{cid}/pause", headers=staff).json()["status"] == "paused"
    assert client.post(f"/api/campaigns/{cid}/pause", headers=staff).status_code == 409
    assert client.post(f"/api/campaigns/{cid}/resume", headers=staff).json()["status"] == "running"
    status = client.get(f"/api/campaigns/{cid}/status", headers=staff).json()
    assert status["targets"] == 2 and status["targets_by_status"] == {"pending": 1, "no_phone": 1}
    results = client.get(f"/api/campaigns/{cid}/results", headers=staff).json()
    assert {r["name"]: r["outcome"] for r in results} == {
        "Nguyễn Văn An": "unreached",
        "Trần Thị Bình": "no_phone",
    }
    assert set(results[0]) >= {
        "contact_id", "name", "phone", "outcome", "symptomatic", "urgent", "answers",
        "attempts", "sms",
    }  # fmt: skip
    assert client.post(f"/api/campaigns/{cid}/cancel", headers=staff).json()["status"] == (
        "cancelled"
    )
    session.expire_all()
    assert session.get(Campaign, cid).status is CampaignStatus.cancelled
    assert {t.status.value for t in session.scalars(select(Target))} == {"cancelled", "no_phone"}


def test_bad_requests_name_the_field_and_change_nothing(client, session, commune):
    staff = _token(session, "district.staff", Role.district, "769")
    for body, field in [
        ({"preset": "nope"}, "nope"),
        ({"preset": "f1_tracing_call", "unit": "00000"}, "unit"),
        ({"preset": "f1_tracing_call", "window": "25:00-26:00"}, "--window"),
        ({"preset": "f1_tracing_call", "retry_delay": "soon"}, "duration"),
        ({"preset": "f1_tracing_call", "unit": None}, "give one of your units"),
    ]:
        body = {"unit": commune.code, **body}
        response = client.post("/api/campaigns", headers=staff, json=body)
        assert response.status_code == 422 and field in response.text
    session.expire_all()
    assert session.scalars(select(Campaign)).all() == []


def test_viewers_read_but_cannot_change_and_communes_see_only_their_own(client, session, commune):
    district = _token(session, "district.staff", Role.district, "769")
    viewer = _token(session, "viewer", Role.viewer, "769")
    other = "26803" if commune.code != "26803" else "26800"
    outsider = _token(session, "other.commune", Role.commune, other)
    cid = client.post(
        "/api/campaigns", headers=district, json={"preset": "f1_tracing_call", "unit": commune.code}
    ).json()["id"]
    assert client.get(f"/api/campaigns/{cid}", headers=viewer).status_code == 200
    assert client.post(f"/api/campaigns/{cid}/start", headers=viewer).status_code == 403
    assert client.get(f"/api/campaigns/{cid}", headers=outsider).status_code == 404
    assert client.get("/api/campaigns", headers=outsider).json() == []
    assert (
        client.post(
            "/api/campaigns",
            headers=outsider,
            json={"preset": "f1_tracing_call", "unit": commune.code},
        ).status_code
        == 403
    )


def test_a_district_campaign_reaches_its_communes_who_see_only_their_own_people(
    client, session, commune, add_contact
):
    other = session.scalar(
        select(Unit).where(Unit.level == "commune", Unit.id != commune.id).order_by(Unit.id)
    )
    add_contact("Người Xã Này", "+84912000001")
    add_contact("Người Xã Khác", "+84912000002").unit_id = other.id
    session.commit()
    district = _token(session, "district.staff", Role.district, "769")
    station = _token(session, "commune.staff", Role.commune, commune.code)
    cid = client.post(
        "/api/campaigns", headers=district, json={"preset": "f1_tracing_call", "unit": "769"}
    ).json()["id"]
    # Running the district's campaign is for the district.
    assert client.post(f"/api/campaigns/{cid}/start", headers=station).status_code == 403
    assert client.post(f"/api/campaigns/{cid}/start", headers=district).status_code == 200
    # The commune station sees its district's campaign, and only its own people in it.
    assert [c["id"] for c in client.get("/api/campaigns", headers=station).json()] == [cid]
    assert client.get(f"/api/campaigns/{cid}", headers=station).status_code == 200
    names = [r["name"] for r in client.get(f"/api/campaigns/{cid}/results", headers=station).json()]
    assert names == ["Người Xã Này"]
    everyone = client.get(f"/api/campaigns/{cid}/results", headers=district).json()
    assert sorted(r["name"] for r in everyone) == ["Người Xã Khác", "Người Xã Này"]
