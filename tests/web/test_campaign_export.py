"""A call_then_sms campaign run to the end against simulated residents, then exported: the
workbook's sheets and totals agree with `campaign results`, the list of people to visit is
exactly those no call or SMS reached, and the CSV starts with a BOM; formula-like names stay
text; a commune user's export holds only their commune."""

from __future__ import annotations

import csv
import io
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from robocall.campaigns.service import create_campaign, start_campaign
from robocall.cli import app as cli_app
from robocall.contacts.models import Classification, Contact
from robocall.runner import run_until_done, use_simulator
from robocall.units.service import ensure_sample_units, get_by_code
from robocall.users.models import AuditEntry, Role
from tests.campaigns.conftest import campaign_process  # noqa: F401  (wires campaigns in)
from tests.web.conftest import DISTRICT, LINH_CHIEU, LINH_TRUNG
from tests.web.helpers import signed_in_client

FORMULA = '=HYPERLINK("http://x","y")'
ALL_FINE = "1 2 2 2 2 2 2 1"  # it's me; no fever, cough, sore throat, breathing, taste; at home
FEVER = "1 1 2 2 2 2 2 1"
PERSONAS = f"""
version: 1
default: {{answer: 0.0, no_answer: 1.0, seed: 1}}
numbers:
  "+84912000001": [{{answer: human, press: "{ALL_FINE}"}}]
  "+84912000002": [{{answer: human, press: "{FEVER}"}}]
  "+84912000003": [busy, busy, no_answer]
  "+842838000004": [no_answer]
  "+84912000005": [machine, {{answer: human, press: "{ALL_FINE}"}}]
  "+84912000006": [no_answer]
"""
SHEETS = ["Tổng hợp", "Cuộc gọi", "Chưa liên lạc được", "Triệu chứng", "Tin nhắn"]


def _person(
    session: Session, unit: str, name: str, phone: str | None, hamlet: str, **fields: Any
) -> Contact:
    found = get_by_code(db_session=session, code=unit)
    assert found is not None
    contact = Contact(
        unit_id=found.id,
        name=name,
        match_key=name.casefold(),
        phone=phone,
        sms_capable=fields.pop("sms_capable", phone is not None),
        classification=Classification.F1,
        commune=found.name,
        hamlet=hamlet,
        address_detail=fields.pop("address", f"{len(name)} Đường số 1"),
        **fields,
    )
    session.add(contact)
    session.flush()
    return contact


@pytest.fixture
def finished_campaign(session: Session, tmp_path: Path) -> int:
    ensure_sample_units(db_session=session)
    people = [
        _person(session, LINH_TRUNG, "Nguyễn Văn An", "+84912000001", "Khu phố 2"),
        _person(session, LINH_TRUNG, "Trần Thị Bình", "+84912000002", "Khu phố 1"),
        # Three failed calls, then the SMS.
        _person(session, LINH_TRUNG, "Lê Thị Dung", "+84912000003", "Khu phố 3"),
        # A landline: no SMS; a name that Excel would run as a formula.
        _person(session, LINH_CHIEU, FORMULA, "+842838000004", "Khu phố 5", sms_capable=False),
        _person(session, LINH_CHIEU, "Bùi Thị Lan", None, "Khu phố 4"),
        _person(session, LINH_CHIEU, "Ngô Văn Minh", "+84912000005", "Khu phố 4"),
        _person(session, LINH_TRUNG, "Phạm Thị Oanh", None, "Khu phố 1"),
        _person(session, LINH_CHIEU, "Đỗ Văn Phúc", "+84912000006", "Khu phố 1"),
    ]
    campaign = create_campaign(
        db_session=session,
        preset="f1_tracing_call",
        unit_code=DISTRICT,
        contact_ids=[p.id for p in people],
        window="00:00-24:00",
        cps=20,
        max_concurrent=5,
        retry_delay_seconds=0.05,
    )
    start_campaign(db_session=session, campaign_id=campaign.id)
    session.commit()
    personas = tmp_path / "personas.yaml"
    personas.write_text(PERSONAS, encoding="utf-8")
    use_simulator(personas=personas, time_factor=0.001, cps=100)
    assert run_until_done(campaign_id=campaign.id, timeout=60)["status"] == "completed"
    return campaign.id


def _results(campaign_id: int) -> list[dict[str, Any]]:
    out = CliRunner().invoke(cli_app, ["campaign", "results", str(campaign_id), "--json"])
    assert out.exit_code == 0, out.output
    rows: list[dict[str, Any]] = json.loads(out.stdout)
    return rows


def _expected_summary(rows: list[dict[str, Any]], communes: dict[int, str]) -> dict[str, list]:
    by: dict[str, Counter[str]] = {}
    for row in rows:
        counts = by.setdefault(communes[row["unit_id"]], Counter())
        counts["people"] += 1
        counts["called"] += bool(row["attempts"])
        counts[row["outcome"]] += 1
        counts["symptomatic"] += row["symptomatic"]
        counts["urgent"] += row["urgent"]
    total = sum(by.values(), Counter())
    out = {}
    for name, c in [*by.items(), ("Tổng cộng", total)]:
        percent = round(100 * c["reached"] / c["people"], 1)
        out[name] = [
            c["people"],
            c["called"],
            c["reached"],
            percent,
            c["symptomatic"],
            c["urgent"],
            c["unreached"],
            c["wrong_number"],
            c["opted_out"],
            c["no_phone"],
        ]
    return out


def _to_visit(
    rows: list[dict[str, Any]], hamlets: dict[int, str | None], communes: dict[int, str]
) -> list[tuple[str, str | None, str]]:
    """Whom neither a call nor an SMS reached, by commune then hamlet (then name)."""
    wanted = [
        r
        for r in rows
        if r["outcome"] in ("unreached", "no_phone", "wrong_number")
        and not any(s["status"] == "delivered" for s in r["sms"])
    ]
    return sorted((communes[r["unit_id"]], hamlets[r["contact_id"]], r["name"]) for r in wanted)


def test_campaign_workbook_and_csv_agree_with_the_results(session, finished_campaign, tmp_path):
    campaign_id = finished_campaign
    rows = _results(campaign_id)
    session.expire_all()
    hamlets = {c.id: c.hamlet for c in session.scalars(select(Contact))}
    communes = {
        get_by_code(db_session=session, code=code).id: get_by_code(
            db_session=session, code=code
        ).name
        for code in (LINH_TRUNG, LINH_CHIEU)
    }
    session.rollback()  # end the read: the export writes its audit entry
    outcomes = Counter(r["outcome"] for r in rows)
    assert outcomes["reached"] >= 3 and outcomes["unreached"] >= 2 and outcomes["no_phone"] == 2

    xlsx = tmp_path / "campaign.xlsx"
    out = CliRunner().invoke(cli_app, ["export", "campaign", str(campaign_id), "--out", str(xlsx)])
    assert out.exit_code == 0, out.output
    book = openpyxl.load_workbook(xlsx)
    assert book.sheetnames == SHEETS
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref

    # Per commune (and in total) what `campaign results` says.
    summary = {r[0]: list(r[1:11]) for r in book["Tổng hợp"].iter_rows(min_row=2, values_only=True)}
    assert summary == _expected_summary(rows, communes)

    # Exactly the people to visit, by commune then hamlet.
    visit = book["Chưa liên lạc được"]
    listed = [(r[0], r[1] or None, r[2]) for r in visit.iter_rows(min_row=2, values_only=True)]
    assert listed == _to_visit(rows, hamlets, communes)
    assert any(name == FORMULA for _, _, name in listed)
    # Neither the SMS-reached nor the reached are on it.
    assert "Lê Thị Dung" not in {n for _, _, n in listed}
    assert "Nguyễn Văn An" not in {n for _, _, n in listed}
    assert visit.page_setup.orientation == "landscape" and visit.print_title_rows == "$1:$1"
    formula_cell = next(r[2] for r in visit.iter_rows(min_row=2) if r[2].value == FORMULA)
    assert formula_cell.data_type == "s"  # text, never a formula

    # Every attempt, with dates as dd/mm/yyyy; every SMS; the fever report with its answers.
    calls = list(book["Cuộc gọi"].iter_rows(min_row=2))
    assert len(calls) == sum(len(r["attempts"]) for r in rows)  # no shared phones here
    assert calls[0][0].number_format == "dd/mm/yyyy hh:mm"
    messages = list(book["Tin nhắn"].iter_rows(min_row=2, values_only=True))
    assert sorted(m[0] for m in messages) == ["+84912000003", "+84912000006"]
    assert {m[5] for m in messages} == {"UCS2"} and all(m[4] >= 3 for m in messages)
    reports = list(book["Triệu chứng"].iter_rows(min_row=2, values_only=True))
    # A report for each call that reached a person; the symptoms where they had any.
    assert sorted(r[1] for r in reports) == sorted(r["name"] for r in rows if r["answers"])
    assert [r[1] for r in reports if r[4]] == [r["name"] for r in rows if r["symptomatic"]]
    assert [r[1] for r in reports if r[4]] == ["Trần Thị Bình"]
    assert all(r[9] for r in reports)  # with their answers

    # The CSV: one row per person with their result, a BOM, formula-like text as text.
    csv_path = tmp_path / "campaign.csv"
    out = CliRunner().invoke(
        cli_app, ["export", "campaign", str(campaign_id), "--out", str(csv_path)]
    )
    assert out.exit_code == 0, out.output
    raw = csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header = ["Mã", "Họ và tên", "Điện thoại", "Xã/Phường", "Thôn/Tổ", "Địa chỉ", "Kết quả"]
    assert table[0][:7] == header
    assert sorted(int(r[0]) for r in table[1:]) == sorted(r["contact_id"] for r in rows)
    names = [r[1] for r in table[1:]]
    assert "'" + FORMULA in names and FORMULA not in names
    order = [(r[3], r[4]) for r in table[1:]]
    assert order == sorted(order)


def test_a_commune_user_exports_only_their_commune(session, finished_campaign):
    trung = get_by_code(db_session=session, code=LINH_TRUNG).name
    session.rollback()  # the app writes while this test reads
    client = signed_in_client(session, "linhtrung", Role.commune, LINH_TRUNG)
    response = client.get(f"/exports/campaign.xlsx?campaign={finished_campaign}")
    assert response.status_code == 200, response.text
    assert "campaign-" in response.headers["content-disposition"]
    book = CalamineWorkbook.from_filelike(io.BytesIO(response.content))
    assert book.sheet_names == SHEETS
    summary = book.get_sheet_by_name("Tổng hợp").to_python()
    assert [r[0] for r in summary[1:]] == [trung, "Tổng cộng"]
    visit = book.get_sheet_by_name("Chưa liên lạc được").to_python()[1:]
    assert visit and {r[0] for r in visit} == {trung}
    calls = book.get_sheet_by_name("Cuộc gọi").to_python()[1:]
    assert FORMULA not in {r[1] for r in calls} and "Nguyễn Văn An" in {r[1] for r in calls}
    csv_text = client.get(f"/exports/campaign.csv?campaign={finished_campaign}").text
    assert "Nguyễn Văn An" in csv_text and "Bùi Thị Lan" not in csv_text
    # Another commune's unit, or a campaign that does not exist: 404.
    assert (
        client.get(
            f"/exports/campaign.xlsx?campaign={finished_campaign}&unit={LINH_CHIEU}"
        ).status_code
        == 404
    )
    assert client.get("/exports/campaign.xlsx?campaign=9999").status_code == 404
    session.expire_all()
    audits = session.scalars(select(AuditEntry).where(AuditEntry.action == "export.download")).all()
    assert [a.detail["campaign"] for a in audits] == [finished_campaign, finished_campaign]


def test_the_api_and_the_cli_refuse_what_they_cannot_export(session, world, tmp_path):
    from tests.web.helpers import api_client

    draft = create_campaign(
        db_session=session, preset="f1_tracing_call", unit_code=LINH_CHIEU, window="00:00-24:00"
    )
    session.commit()
    admin = api_client(session, "script", Role.admin, None)
    response = admin.get(f"/api/exports/campaign.xlsx?campaign={draft.id}")
    assert response.status_code == 200
    assert CalamineWorkbook.from_filelike(io.BytesIO(response.content)).sheet_names == SHEETS
    assert admin.get("/api/exports/campaign.csv").status_code == 422  # which campaign?
    commune = api_client(session, "trung-script", Role.commune, LINH_TRUNG)
    assert commune.get(f"/api/exports/campaign.xlsx?campaign={draft.id}").status_code == 404
    assert commune.get(f"/api/exports/campaign.csv?campaign={draft.id}").status_code == 404

    out = tmp_path / "none.xlsx"
    result = CliRunner().invoke(cli_app, ["export", "campaign", "999", "--out", str(out)])
    assert result.exit_code == 2 and "no campaign 999" in result.output
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_the_worker_prepares_a_campaign_workbook_for_the_exports_page(session, world, tmp_path):
    from tests.web.helpers import page_csrf, running_worker

    trung = create_campaign(
        db_session=session, preset="f1_tracing_call", unit_code=LINH_TRUNG, window="00:00-24:00"
    )
    chieu = create_campaign(
        db_session=session, preset="f1_tracing_call", unit_code=LINH_CHIEU, window="00:00-24:00"
    )
    session.commit()
    client = signed_in_client(session, "linhtrung", Role.commune, LINH_TRUNG)
    page = client.get("/exports").text
    assert f"/exports/campaign.xlsx?campaign={trung.id}" in page
    assert f"campaign={chieu.id}" not in page  # another commune's campaign is not offered
    csrf = page_csrf(client, "/exports")
    refused = client.post(
        "/exports/campaign/prepare", data={"csrf_token": csrf, "fmt": "xlsx", "campaign": chieu.id}
    )
    assert refused.status_code == 404
    response = client.post(
        "/exports/campaign/prepare",
        data={"csrf_token": csrf, "fmt": "csv", "campaign": trung.id},
        follow_redirects=False,
    )
    assert response.status_code == 303
    token = response.headers["location"].rsplit("/", 1)[1]
    with running_worker(["exports"]):
        for _ in range(200):
            if client.get(f"/exports/prepared/{token}/progress").json()["state"] == "done":
                break
            time.sleep(0.05)
    download = client.get(f"/exports/prepared/{token}/file")
    assert download.status_code == 200
    assert f"campaign-{trung.id}-" in download.headers["content-disposition"]
    assert download.content.startswith(b"\xef\xbb\xbf")
    names = [r[1] for r in csv.reader(io.StringIO(download.content.decode("utf-8-sig")))]
    assert names == ["Họ và tên"]  # the header only: a draft has nobody in it yet
