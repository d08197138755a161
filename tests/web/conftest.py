from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from robocall.config import get_settings
from robocall.contacts.models import Classification, Contact
from robocall.hotline.models import HotlineReport, ReportChannel, ReportKind
from robocall.telephony.base import AnsweredBy, CallDirection, CallStatus
from robocall.telephony.models import Call
from robocall.units.service import ensure_sample_units, get_by_code

LINH_TRUNG = "26794"
LINH_CHIEU = "26800"
HIEP_BINH = "26803"
DISTRICT = "769"


@dataclass
class World:
    """Two communes' people and reports; one urgent report in each."""

    trung_contact: int
    chieu_contact: int
    trung_report: int
    chieu_report: int
    trung_urgent: int


def _contact(session: Session, unit_code: str, name: str, phone: str, **fields: object) -> Contact:
    unit = get_by_code(db_session=session, code=unit_code)
    assert unit is not None
    contact = Contact(
        unit_id=unit.id,
        name=name,
        match_key=name.casefold(),
        phone=phone,
        classification=fields.pop("classification", Classification.F1),
        commune=unit.name,
        **fields,
    )
    session.add(contact)
    session.flush()
    return contact


def _report(session: Session, unit_code: str, phone: str, urgent: bool, **fields: object) -> int:
    unit = get_by_code(db_session=session, code=unit_code)
    assert unit is not None
    report = HotlineReport(
        channel=ReportChannel.hotline,
        kind=ReportKind.symptoms,
        phone=phone,
        unit_id=unit.id,
        urgent=urgent,
        **fields,
    )
    session.add(report)
    session.flush()
    return report.id


@pytest.fixture
def world(session: Session) -> World:
    ensure_sample_units(db_session=session)
    today = dt.datetime.now(get_settings().zone).date()
    trung = _contact(
        session,
        LINH_TRUNG,
        "Nguyễn Văn An",
        "+84912000001",
        exposure_date=today - dt.timedelta(days=3),
        hamlet="Khu phố 1",
    )
    _contact(
        session,
        LINH_TRUNG,
        "Trần Thị Hết",
        "+84912000003",
        exposure_date=today - dt.timedelta(days=13),  # day 14: the last day of monitoring
    )
    chieu = _contact(
        session,
        LINH_CHIEU,
        "Lê Thị Bình",
        "+84912000002",
        exposure_date=today - dt.timedelta(days=12),  # day 13: ends tomorrow
    )
    session.add(
        Call(
            sid="CA0001",
            direction=CallDirection.outbound,
            to_number="+84912000001",
            from_number="+842800000000",
            status=CallStatus.completed,
            answered_by=AnsweredBy.human,
            duration_seconds=42,
        )
    )
    trung_report = _report(
        session, LINH_TRUNG, "+84912000001", False, symptoms=["cough"], contact_id=trung.id
    )
    trung_urgent = _report(
        session,
        LINH_TRUNG,
        "+84912000001",
        True,
        symptoms=["breathless"],
        urgent_reasons=["low_spo2"],
        spo2=90,
        contact_id=trung.id,
        recording_urls=["https://recordings.example/RE1.mp3"],
    )
    chieu_report = _report(
        session, LINH_CHIEU, "+84912000002", True, symptoms=["fever"], contact_id=chieu.id
    )
    session.commit()
    return World(trung.id, chieu.id, trung_report, chieu_report, trung_urgent)


@pytest.fixture
def chromium_executable() -> str:
    """The Chromium to drive; skips the test (or fails it in CI) when there is none."""
    from tests.web.helpers import require_chromium

    return require_chromium()
