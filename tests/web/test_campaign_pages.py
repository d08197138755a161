"""Campaign pages: create from a preset with the SMS estimate shown before it starts; start,
pause, resume, cancel (CSRF, roles, audit); progress as JSON; other communes' campaigns 404."""

from __future__ import annotations

import re

from sqlalchemy import select

from robocall.campaigns.models import Campaign, CampaignStatus
from robocall.contacts.models import Contact
from robocall.users.models import AuditEntry, Role
from tests.web.conftest import LINH_CHIEU, LINH_TRUNG, World
from tests.web.helpers import page_csrf, signed_in_client


def _create(client, **fields: str) -> int:
    data = {
        "csrf_token": page_csrf(client, "/campaigns/new"),
        "preset": "f1_tracing_call",
        "name": "Gọi F1 Linh Trung",
        "unit": LINH_TRUNG,
        "classification": "F1",
        "window": "07:30-11:30,13:30-20:00",
        "days": "mon-sat",
        "cps": "2",
        "max_concurrent": "4",
        "max_attempts": "2",
        "retry_delay": "15m",
        "amd": "no",
        "start_at": "",
        **fields,
    }
    response = client.post("/campaigns", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/campaigns/(\d+)", response.headers["location"])
    assert match
    return int(match.group(1))


def test_create_from_a_preset_see_the_sms_cost_then_start_pause_resume_cancel(
    session, world: World
):
    for contact in session.scalars(select(Contact)):
        contact.sms_capable = True  # mobile numbers
    session.commit()
    client = signed_in_client(session, "xaphuong", Role.commune, LINH_TRUNG)
    campaign_id = _create(client)
    session.expire_all()
    campaign = session.get(Campaign, campaign_id)
    assert (campaign.window_ranges, campaign.window_days) == ("07:30-11:30,13:30-20:00", "mon-sat")
    assert (campaign.calls_per_second, campaign.max_concurrent, campaign.max_attempts) == (2, 4, 2)
    assert campaign.amd is False and campaign.retry_delays["busy"] == 900
    assert campaign.audience["units"] == [LINH_TRUNG] and campaign.status is CampaignStatus.draft
    session.rollback()

    page = client.get(f"/campaigns/{campaign_id}").text
    # Linh Trung's two F1 people have SMS-capable phones: two Vietnamese (UCS-2) messages.
    assert re.search(r'id="sms-messages">2<', page)
    segments = int(re.search(r'id="sms-segments">(\d+)<', page).group(1))
    assert segments >= 4 and "UCS2" in page and re.search(r'id="sms-cost">[\d.]+ đ<', page)
    assert 'id="campaign-start"' in page and 'id="campaign-pause"' not in page

    token = page_csrf(client, f"/campaigns/{campaign_id}")
    assert client.post(f"/campaigns/{campaign_id}/start", follow_redirects=False).status_code == 403
    for action, status in [
        ("start", "running"),
        ("pause", "paused"),
        ("resume", "running"),
        ("cancel", "cancelled"),
    ]:
        response = client.post(
            f"/campaigns/{campaign_id}/{action}", data={"csrf_token": token}, follow_redirects=False
        )
        assert response.status_code == 303, (action, response.text)
        assert client.get(f"/campaigns/{campaign_id}/progress").json()["status"] == status
    again = client.post(f"/campaigns/{campaign_id}/resume", data={"csrf_token": token})
    assert again.status_code == 409
    listing = client.get("/campaigns").text
    assert f'id="campaign-{campaign_id}"' in listing and "Đã hủy" in listing
    session.expire_all()
    query = select(AuditEntry.action).where(AuditEntry.object_type == "campaign")
    actions = session.scalars(query.order_by(AuditEntry.id)).all()
    assert actions == [
        "campaign.create",
        "campaign.start",
        "campaign.pause",
        "campaign.resume",
        "campaign.cancel",
    ]


def test_a_bad_setting_is_refused_with_its_field_and_creates_nothing(session, world: World):
    client = signed_in_client(session, "quantri", Role.admin, None)
    data = {
        "csrf_token": page_csrf(client, "/campaigns/new"),
        "preset": "f1_tracing_call",
        "window": "25:00-26:00",
        "cps": "nhanh",
    }
    response = client.post("/campaigns", data=data)
    assert response.status_code == 422
    assert "cps" in response.text and 'value="25:00-26:00"' in response.text
    assert session.scalars(select(Campaign)).all() == []


def test_viewers_may_not_act_and_other_communes_see_nothing(session, world: World):
    admin = signed_in_client(session, "quantri", Role.admin, None)
    chieu = _create(admin, unit=LINH_CHIEU, name="Gọi F1 Linh Chiểu")
    trung = _create(admin)
    viewer = signed_in_client(session, "xem", Role.viewer, LINH_TRUNG)
    assert viewer.get("/campaigns/new").status_code == 403
    token = page_csrf(viewer, f"/campaigns/{trung}")
    refused = viewer.post(f"/campaigns/{trung}/start", data={"csrf_token": token})
    assert refused.status_code == 403
    assert 'id="campaign-start"' not in viewer.get(f"/campaigns/{trung}").text
    # Linh Chiểu's campaign does not exist for Linh Trung's users.
    assert viewer.get(f"/campaigns/{chieu}").status_code == 404
    assert viewer.get(f"/campaigns/{chieu}/progress").status_code == 404
    assert f'id="campaign-{chieu}"' not in viewer.get("/campaigns").text
    assert viewer.get(f"/exports/campaign.xlsx?campaign={chieu}").status_code == 404
    session.expire_all()
    assert session.get(Campaign, trung).status is CampaignStatus.draft
