"""An urgent alert the provider refused on every try is shown in red to the staff of the
report's commune, on the dashboard and on the report, until the report is closed."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from robocall.hotline.duty import DutyEntry, DutyRoster
from robocall.hotline.models import (
    HotlineReport,
    NotificationStatus,
    ReportChannel,
    ReportNotification,
    ReportStatus,
)
from robocall.hotline.service import (
    ALERT_RETRY_INTERVALS,
    ReportSource,
    deliver_notification,
    file_report,
)
from robocall.units.service import ensure_sample_units, get_by_code
from robocall.users.models import Role
from tests.web.helpers import csrf_from, signed_in_client

LINH_TRUNG, LINH_CHIEU = "26794", "26800"
DUTY = {LINH_TRUNG: "+84912000794", LINH_CHIEU: "+84912000800"}
PANEL = re.compile(r'<section class="card alarm" id="undelivered-alerts".*?</section>', re.S)


def _urgent_report(session: Session, unit_code: str, phone: str) -> int:
    unit = get_by_code(db_session=session, code=unit_code)
    assert unit is not None
    roster = DutyRoster(
        default=DutyEntry(sms=(), transfer=None),
        units={unit_code: DutyEntry(sms=(DUTY[unit_code],), transfer=None)},
    )
    report_id = file_report(
        db_session=session,
        source=ReportSource(channel=ReportChannel.hotline, phone=phone, unit_id=unit.id),
        data={"kind": "symptoms", "symptoms": ["shortness_of_breath"], "urgent": True},
        roster=roster,
    )
    session.commit()
    return report_id


def _provider_refuses_every_try(session: Session, report_id: int) -> None:
    def refuse(to: str, body: str) -> str:
        raise RuntimeError("21610: the carrier refused the message")

    alert_id = session.scalar(
        select(ReportNotification.id).where(ReportNotification.report_id == report_id)
    )
    assert alert_id is not None
    for _ in range(len(ALERT_RETRY_INTERVALS) + 1):
        assert not deliver_notification(db_session=session, notification_id=alert_id, send=refuse)
        session.commit()
    assert session.get(ReportNotification, alert_id).status == NotificationStatus.failed  # type: ignore[union-attr]


def test_an_alert_given_up_is_shown_in_red_to_its_commune_only(session: Session) -> None:
    ensure_sample_units(db_session=session)
    session.commit()
    trung = _urgent_report(session, LINH_TRUNG, "+84913000001")
    chieu = _urgent_report(session, LINH_CHIEU, "+84913000002")
    _provider_refuses_every_try(session, trung)
    _provider_refuses_every_try(session, chieu)

    nurse = signed_in_client(session, "y.ta.linhtrung", Role.commune, LINH_TRUNG)
    panel = PANEL.search(nurse.get("/").text)
    assert panel is not None, "no red panel for the alert that never went out"
    assert f"/reports/{trung}" in panel.group(0)
    assert DUTY[LINH_TRUNG] in panel.group(0)
    assert "Hãy gọi điện ngay cho bác sĩ trực" in panel.group(0)
    # Another commune's failed alert is not this nurse's to see.
    assert f"/reports/{chieu}" not in panel.group(0)
    assert DUTY[LINH_CHIEU] not in panel.group(0)

    report_page = nurse.get(f"/reports/{trung}").text
    assert 'id="report-alerts"' in report_page
    assert "Không gửi được" in report_page

    # Once the report is handled and closed, the dashboard no longer raises it.
    token = csrf_from(report_page)
    closed = nurse.post(
        f"/reports/{trung}/close", data={"csrf_token": token}, follow_redirects=False
    )
    assert closed.status_code == 303, closed.text
    assert PANEL.search(nurse.get("/").text) is None


def test_no_red_panel_when_every_alert_went_out(session: Session) -> None:
    ensure_sample_units(db_session=session)
    session.commit()
    report_id = _urgent_report(session, LINH_TRUNG, "+84913000001")
    alert_id = session.scalar(
        select(ReportNotification.id).where(ReportNotification.report_id == report_id)
    )
    assert alert_id is not None
    assert deliver_notification(
        db_session=session, notification_id=alert_id, send=lambda to, body: "SM0001"
    )
    session.commit()
    assert session.get(HotlineReport, report_id) is not None

    nurse = signed_in_client(session, "y.ta.linhtrung", Role.commune, LINH_TRUNG)
    assert PANEL.search(nurse.get("/").text) is None
    assert "Đã gửi" in nurse.get(f"/reports/{report_id}").text


def test_a_change_is_committed_before_the_page_says_it_was_done(session: Session) -> None:
    """If the commit fails, the nurse sees an error, not "done" over a change that was lost."""
    ensure_sample_units(db_session=session)
    session.commit()
    report_id = _urgent_report(session, LINH_TRUNG, "+84913000001")
    nurse = signed_in_client(session, "y.ta.linhtrung", Role.commune, LINH_TRUNG)
    nurse_raising = TestClient(
        nurse.app, base_url="https://robocall.test", raise_server_exceptions=False
    )
    nurse_raising.cookies = nurse.cookies
    token = csrf_from(nurse.get(f"/reports/{report_id}").text)

    def disk_full(db: Session) -> None:
        if any(isinstance(o, HotlineReport) for o in db.dirty):
            raise OperationalError("COMMIT", {}, Exception("could not write: disk full"))

    event.listen(Session, "before_commit", disk_full)
    try:
        response = nurse_raising.post(
            f"/reports/{report_id}/acknowledge",
            data={"csrf_token": token},
            follow_redirects=False,
        )
    finally:
        event.remove(Session, "before_commit", disk_full)
    assert response.status_code == 500
    session.expire_all()
    report = session.get(HotlineReport, report_id)
    assert report is not None and report.status == ReportStatus.new
