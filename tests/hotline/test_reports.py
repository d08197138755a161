"""Listing and handling reports: urgent first, by unit, acknowledged and closed by someone."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from robocall.cli import app
from robocall.hotline.duty import DutyEntry, DutyRoster
from robocall.hotline.models import HotlineReport, ReportChannel, ReportKind, ReportStatus
from robocall.hotline.service import (
    ReportNotFound,
    ReportSource,
    UnknownUnit,
    list_reports,
    record_report,
    set_report_status,
)
from robocall.units.service import ensure_sample_units, get_by_code

ROSTER = DutyRoster(default=DutyEntry(("+84912000115",), None))


def _report(session, *, phone: str, unit_code: str | None, urgent: bool, minutes_ago: int):
    unit = get_by_code(db_session=session, code=unit_code) if unit_code else None
    report = record_report(
        db_session=session,
        source=ReportSource(channel=ReportChannel.sms, phone=phone, unit_id=unit and unit.id),
        data={"kind": "symptoms", "symptoms": ["cough"], "urgent": urgent},
        roster=ROSTER,
    )
    report.created_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)
    return report


def test_urgent_reports_come_first_then_newest(session):
    ensure_sample_units(db_session=session)
    old_urgent = _report(
        session, phone="+84900000001", unit_code="26794", urgent=True, minutes_ago=90
    )
    new_plain = _report(
        session, phone="+84900000002", unit_code="26800", urgent=False, minutes_ago=1
    )
    new_urgent = _report(session, phone="+84900000003", unit_code=None, urgent=True, minutes_ago=5)
    session.commit()
    ordered = [r.id for r in list_reports(db_session=session)]
    assert ordered == [new_urgent.id, old_urgent.id, new_plain.id]
    assert [r.id for r in list_reports(db_session=session, urgent_only=True)] == [
        new_urgent.id,
        old_urgent.id,
    ]
    # A district sees its communes' reports; a commune only its own.
    assert {r.id for r in list_reports(db_session=session, unit_code="769")} == {
        old_urgent.id,
        new_plain.id,
    }
    assert [r.id for r in list_reports(db_session=session, unit_code="26800")] == [new_plain.id]
    with pytest.raises(UnknownUnit):
        list_reports(db_session=session, unit_code="00000")


def test_cli_lists_json_with_the_promised_fields_and_refuses_an_unknown_unit(session):
    ensure_sample_units(db_session=session)
    _report(session, phone="+84900000001", unit_code="26794", urgent=False, minutes_ago=3)
    session.commit()
    result = CliRunner().invoke(app, ["reports", "list", "--unit", "769", "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    for key in (
        "id",
        "channel",
        "kind",
        "phone",
        "contact_id",
        "symptoms",
        "urgent",
        "created_at",
        "answers",
    ):
        assert key in row
    assert row["channel"] == "sms" and row["symptoms"] == ["cough"]
    assert dt.datetime.fromisoformat(row["created_at"]).tzinfo is not None
    bad = CliRunner().invoke(app, ["reports", "list", "--unit", "nowhere"])
    assert bad.exit_code == 2
    assert "no unit with code 'nowhere'" in bad.output


def test_acknowledge_then_close_keeps_who_and_when(session):
    report = HotlineReport(channel=ReportChannel.web, kind=ReportKind.message, phone="+84900000009")
    session.add(report)
    session.commit()
    set_report_status(
        db_session=session, report_id=report.id, status=ReportStatus.acknowledged, by="bs.lan"
    )
    set_report_status(
        db_session=session, report_id=report.id, status=ReportStatus.closed, by="bs.minh"
    )
    session.commit()
    assert report.status == ReportStatus.closed
    assert report.acknowledged_by == "bs.lan" and report.closed_by == "bs.minh"
    assert report.acknowledged_at <= report.closed_at
    with pytest.raises(ReportNotFound):
        set_report_status(db_session=session, report_id=999, status=ReportStatus.closed, by="x")


def test_an_urgent_report_alerts_each_duty_number_once(session):
    report = _report(session, phone="+84900000001", unit_code=None, urgent=True, minutes_ago=0)
    again = record_report(
        db_session=session,
        source=ReportSource(channel=ReportChannel.sms, phone="+84900000001"),
        data={"kind": "symptoms", "urgent": True},
        roster=ROSTER,
    )
    session.commit()
    assert len(report.notifications) == 1 and report.notifications[0].to == "+84912000115"
    assert again.id != report.id  # reports without a call are separate reports
