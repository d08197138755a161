"""A phone number is not a key to another commune's data, and an opt-out is no weapon.

Each test replays an attack from the security review: a commune user imports a list holding a
number of another commune's resident, then reads, calls or opts out through that number.
"""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.contacts.models import Classification, Contact, OptOut
from robocall.contacts.service import (
    RESIDENT_DURING_CALL,
    add_opt_out,
    is_opted_out,
    opted_out_for_contacts,
)
from robocall.hotline.duty import DutyEntry, DutyRoster
from robocall.hotline.models import HotlineReport, ReportChannel, ReportNotification
from robocall.hotline.service import ReportSource, file_report
from robocall.ivr import service as ivr
from robocall.ivr.contacts import contact_by_phone
from robocall.ivr.models import CallAnswer, CallSession
from robocall.sms.inbound import handle_inbound_sms
from robocall.telephony import service as telephony
from robocall.telephony.base import CallDirection, CallStatus, MessageEventData, MessageStatus
from robocall.telephony.models import Call
from robocall.units.service import ensure_sample_units, get_by_code
from robocall.users.models import AuditEntry, Role
from robocall.web.app import create_app
from tests.ivr.driver import WebhookCall
from tests.web.helpers import api_client, page_csrf, signed_in_client

LINH_TRUNG, LINH_CHIEU, DISTRICT = "26794", "26800", "769"
SHARED = "+84913555001"  # a number on both communes' lists
B_NAME = "Lê Thị Bình"  # commune B's (Linh Chiểu's) resident


def _unit_id(session: Session, code: str) -> int:
    unit = get_by_code(db_session=session, code=code)
    assert unit is not None
    return unit.id


def _contact(session: Session, code: str, name: str, phone: str = SHARED) -> Contact:
    contact = Contact(
        unit_id=_unit_id(session, code),
        name=name,
        match_key=name.casefold(),
        phone=phone,
        classification=Classification.F1,
        exposure_date=dt.datetime.now(dt.UTC).date() - dt.timedelta(days=3),
    )
    session.add(contact)
    session.flush()
    return contact


@pytest.fixture
def b_resident(session: Session) -> Contact:
    """Commune B's resident, called by B's campaign: the call, the session and the answers."""
    ensure_sample_units(db_session=session)
    contact = _contact(session, LINH_CHIEU, B_NAME)
    session.add(
        Call(
            sid="CAb0001",
            direction=CallDirection.outbound,
            to_number=SHARED,
            from_number="+842873001234",
            status=CallStatus.completed,
        )
    )
    call_session = CallSession(
        call_sid="CAb0001",
        direction=CallDirection.outbound,
        flow_name="f1_tracing",
        flow_version="test",
        phone=SHARED,
        contact_id=contact.id,
        unit_id=contact.unit_id,
    )
    session.add(call_session)
    session.flush()
    session.add(
        CallAnswer(
            call_session_id=call_session.id,
            node="confirm_person",
            question=f"Xin gặp anh chị {B_NAME}, có phải anh chị không?",
            key="1",
            value="ho_khan_ba_ngay",
        )
    )
    session.commit()
    return contact


def _import_as_commune_a(session: Session, phone: str = "0913555001") -> tuple[TestClient, int]:
    client = api_client(session, "tram.linhtrung", Role.commune, LINH_TRUNG)
    listing = f"Họ và tên,Số điện thoại\nNguyễn Văn Giả,{phone}\n".encode()
    answer = client.post(
        "/api/imports",
        files={"file": ("a.csv", listing, "text/csv")},
        data={"unit": LINH_TRUNG, "classification": "F1"},
    )
    assert answer.status_code == 200, answer.text
    contact_id = session.scalar(select(Contact.id).where(Contact.name == "Nguyễn Văn Giả"))
    assert contact_id is not None
    session.commit()  # the embedded database lets one transaction write at a time
    return client, contact_id


def test_a_contact_imported_with_another_communes_number_shows_none_of_its_calls(
    session, b_resident
):
    _, contact_id = _import_as_commune_a(session)
    commune_a = signed_in_client(session, "a.nurse", Role.commune, LINH_TRUNG)
    page = commune_a.get(f"/contacts/{contact_id}")
    assert page.status_code == 200
    assert B_NAME not in page.text
    assert "CAb0001" not in page.text and "ho_khan_ba_ngay" not in page.text
    # Commune B still sees its resident's call and answers.
    commune_b = signed_in_client(session, "b.nurse", Role.commune, LINH_CHIEU)
    own = commune_b.get(f"/contacts/{b_resident.id}")
    assert B_NAME in own.text and "ho_khan_ba_ngay" in own.text


def test_a_hotline_call_from_a_shared_number_greets_no_one_and_both_communes_see_it(
    session, b_resident
):
    _import_as_commune_a(session)
    ivr.set_contact_lookups(by_phone=contact_by_phone, by_id=None)
    try:
        with TestClient(create_app()) as client:
            call = WebhookCall(client, "CAshared1", caller=SHARED).call_hotline()
            assert B_NAME not in call.heard[-1] and "Nguyễn Văn Giả" not in call.heard[-1]
            call.press("1")  # report symptoms
            for _ in range(20):
                if call.finished:
                    break
                call.press("1")
    finally:
        ivr.set_contact_lookups(by_phone=None, by_id=None)
    session.expire_all()
    report = session.scalar(select(HotlineReport).where(HotlineReport.phone == SHARED))
    assert report is not None and report.urgent
    for username, unit in (("a.reader", LINH_TRUNG), ("b.reader", LINH_CHIEU)):
        reader = api_client(session, username, Role.commune, unit)
        assert reader.get(f"/api/reports/{report.id}").status_code == 200, username
        listed = reader.get("/api/reports").json()["items"]
        assert [item["id"] for item in listed] == [report.id], username
    other = api_client(session, "c.reader", Role.commune, "26803")
    assert other.get(f"/api/reports/{report.id}").status_code == 404


def test_an_urgent_report_from_a_shared_number_alerts_each_communes_duty_numbers(
    session, b_resident
):
    _contact(session, LINH_TRUNG, "Nguyễn Văn Giả")
    session.commit()
    roster = DutyRoster(
        default=DutyEntry(sms=("+84912000115",), transfer=None),
        units={
            LINH_TRUNG: DutyEntry(sms=("+84912000794",), transfer=None),
            LINH_CHIEU: DutyEntry(sms=("+84912000800",), transfer=None),
        },
    )
    source = ReportSource(channel=ReportChannel.hotline, phone=SHARED)
    file_report(
        db_session=session,
        source=source,
        data={"kind": "symptoms", "symptoms": ["shortness_of_breath"], "urgent": True},
        roster=roster,
    )
    session.commit()
    alerted = sorted(session.scalars(select(ReportNotification.to)))
    assert alerted == ["+84912000794", "+84912000800"]


def test_an_sms_from_a_shared_number_is_filed_for_both_communes(session, b_resident):
    _contact(session, LINH_TRUNG, "Nguyễn Văn Giả")
    session.commit()
    telephony.on_inbound_sms(handle_inbound_sms)
    telephony.record_inbound_sms(
        db_session=session,
        event=MessageEventData(
            message_sid="SM" + "5" * 32,
            status=MessageStatus.received,
            to="+842873009999",
            from_=SHARED,
            body="Tôi bị sốt và ho từ hôm qua",
        ),
    )
    session.commit()
    report = session.scalar(select(HotlineReport).where(HotlineReport.phone == SHARED))
    assert report is not None and report.contact_id is None
    for username, unit in (("a.sms", LINH_TRUNG), ("b.sms", LINH_CHIEU)):
        reader = api_client(session, username, Role.commune, unit)
        assert reader.get(f"/api/reports/{report.id}").status_code == 200, username


def test_a_commune_cannot_opt_out_another_communes_resident(session, b_resident):
    commune_a = signed_in_client(session, "a.optout", Role.commune, LINH_TRUNG)
    added = commune_a.post(
        "/opt-outs",
        data={"phone": "0913555001", "reason": "thử", "csrf_token": page_csrf(commune_a)},
        follow_redirects=False,
    )
    assert added.status_code == 303
    # The opt-out holds in A only: B's campaign still calls its resident.
    assert not is_opted_out(db_session=session, phone=SHARED, unit_ids=[b_resident.unit_id])
    assert not opted_out_for_contacts(db_session=session, phone=SHARED, contact_ids=[b_resident.id])
    assert is_opted_out(db_session=session, phone=SHARED, unit_ids=[_unit_id(session, LINH_TRUNG)])


def test_another_communes_opt_out_is_neither_shown_nor_removable(session, b_resident):
    reason = "Bệnh nhân chuyển tuyến, gia đình xin không gọi"
    opt_out = add_opt_out(
        db_session=session,
        phone=SHARED,
        reason=reason,
        unit_id=b_resident.unit_id,
        created_by="b.nurse",
    )
    session.commit()
    opt_out_id = opt_out.id
    _, _ = _import_as_commune_a(session)
    commune_a = signed_in_client(session, "a.look", Role.commune, LINH_TRUNG)
    page = commune_a.get("/opt-outs")
    assert reason not in page.text and SHARED not in page.text
    removed = commune_a.post(
        f"/opt-outs/{opt_out.id}/remove",
        data={"csrf_token": page_csrf(commune_a)},
        follow_redirects=False,
    )
    assert removed.status_code == 404
    session.expire_all()
    assert session.get(OptOut, opt_out.id) is not None
    # B sees its own with its reason; the district above B may lift it.
    commune_b = signed_in_client(session, "b.look", Role.commune, LINH_CHIEU)
    assert reason in commune_b.get("/opt-outs").text
    district = signed_in_client(session, "district.lead", Role.district, DISTRICT)
    lifted = district.post(
        f"/opt-outs/{opt_out.id}/remove",
        data={"csrf_token": page_csrf(district)},
        follow_redirects=False,
    )
    assert lifted.status_code == 303
    session.expire_all()
    assert session.get(OptOut, opt_out_id) is None


def test_a_residents_own_opt_out_holds_everywhere_and_only_an_admin_lifts_it_with_a_reason(
    session, b_resident
):
    _contact(session, LINH_TRUNG, "Nguyễn Văn Giả")
    opt_out = add_opt_out(
        db_session=session, phone=SHARED, reason=RESIDENT_DURING_CALL, by_resident=True
    )
    session.commit()
    for code in (LINH_TRUNG, LINH_CHIEU):
        assert is_opted_out(db_session=session, phone=SHARED, unit_ids=[_unit_id(session, code)])
    commune_b = signed_in_client(session, "b.lift", Role.commune, LINH_CHIEU)
    listed = commune_b.get("/opt-outs").text
    assert "Bấm phím từ chối trong cuộc gọi" in listed and RESIDENT_DURING_CALL not in listed
    refused = commune_b.post(
        f"/opt-outs/{opt_out.id}/remove",
        data={"csrf_token": page_csrf(commune_b)},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    admin = signed_in_client(session, "quantri", Role.admin, None)
    no_reason = admin.post(
        f"/opt-outs/{opt_out.id}/remove",
        data={"csrf_token": page_csrf(admin)},
        follow_redirects=False,
    )
    assert no_reason.status_code == 422
    lifted = admin.post(
        f"/opt-outs/{opt_out.id}/remove",
        data={"csrf_token": page_csrf(admin), "reason": "Người dân gọi lại xin nhận cuộc gọi"},
        follow_redirects=False,
    )
    assert lifted.status_code == 303
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "optout.remove"))
    assert entry is not None and entry.detail["reason"] == "Người dân gọi lại xin nhận cuộc gọi"
