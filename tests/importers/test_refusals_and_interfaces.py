"""Refused files change nothing (exit 2 / HTTP 422); the CLI and API speak the issue's names."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from robocall.cli import app as cli_app
from robocall.config import reset_settings_cache
from robocall.contacts.service import add_opt_out
from tests.importers.helpers import FIXTURES, run_import, table_counts
from tests.web.helpers import api_client

pytestmark = pytest.mark.usefixtures("units")

REFUSED = {
    "refused_pdf_renamed.xlsx": "not a spreadsheet (a PDF document)",
    "refused_password.xlsx": "password-protected",
    "refused_empty.xlsx": "the file is empty",
    "refused_empty.csv": "the file is empty",
    "refused_header_only.csv": "the list is empty (no rows under its header)",
    "refused_no_name_column.xlsx": "no sheet has a recognisable name column",
}


@pytest.fixture
def some_data(session: Session) -> tuple[int, int, int]:
    """Contacts, a batch and an opt-out already there, to show a refusal leaves them alone."""
    run_import("old_excel_97.xls")
    add_opt_out(db_session=session, phone="+84905000001", reason="asked")
    session.commit()
    counts = table_counts(session)
    # On SQLite a transaction holds the write lock: end it before the command runs.
    session.rollback()
    return counts


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch):
    def set_limits(**values: int) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"ROBOCALL_{name.upper()}", str(value))
        reset_settings_cache()

    yield set_limits
    monkeypatch.undo()
    reset_settings_cache()


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_cli_refuses_with_exit_2_and_changes_nothing(name, session, some_data):
    result = CliRunner().invoke(cli_app, ["import", str(FIXTURES / name), "--json"])
    assert result.exit_code == 2
    assert REFUSED[name] in result.stderr
    assert result.stdout == ""
    session.expire_all()
    assert table_counts(session) == some_data


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_api_refuses_with_422_and_changes_nothing(name, session, some_data):
    client = api_client(session)
    with open(FIXTURES / name, "rb") as handle:
        response = client.post("/api/imports", files={"file": (name, handle)})
    assert response.status_code == 422
    assert REFUSED[name] in response.json()["detail"]
    session.expire_all()
    assert table_counts(session) == some_data


def test_size_and_row_limits_refuse_the_whole_file(session, some_data, limits):
    limits(import_max_bytes=4000)
    result = CliRunner().invoke(cli_app, ["import", str(FIXTURES / "f1_commune_list.xlsx")])
    assert result.exit_code == 2
    assert "over the limit of" in result.stderr and "MB" in result.stderr
    client = api_client(session)
    response = client.post(
        "/api/imports",
        files={"file": ("list.xlsx", (FIXTURES / "f1_commune_list.xlsx").read_bytes())},
    )
    assert response.status_code == 422 and "over the limit" in response.json()["detail"]

    limits(import_max_bytes=50_000_000, import_max_rows=10)
    result = CliRunner().invoke(cli_app, ["import", str(FIXTURES / "f1_commune_list.xlsx")])
    assert result.exit_code == 2
    assert "over the limit of 10" in result.stderr
    session.expire_all()
    assert table_counts(session) == some_data


def test_unknown_unit_or_classification_is_refused(session, some_data):
    path = str(FIXTURES / "list_utf8.csv")
    result = CliRunner().invoke(cli_app, ["import", path, "--unit", "99999"])
    assert result.exit_code == 2 and "unknown unit '99999'" in result.stderr
    result = CliRunner().invoke(cli_app, ["import", path, "--classification", "F9"])
    assert result.exit_code == 2 and "unknown classification 'F9'" in result.stderr
    session.expire_all()
    assert table_counts(session) == some_data


def test_cli_json_is_one_object_per_file_and_refused_files_do_not_stop_the_others(tmp_path):
    report = tmp_path / "report.xlsx"
    result = CliRunner().invoke(
        cli_app,
        [
            "import",
            str(FIXTURES / "list_utf8.csv"),
            str(FIXTURES / "refused_pdf_renamed.xlsx"),
            str(FIXTURES / "returnees_several_sheets.xlsm"),
            "--unit",
            "769",
            "--classification",
            "F1",
            "--json",
            "--report",
            str(report),
        ],
    )
    assert result.exit_code == 2
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["file"] for line in lines] == ["list_utf8.csv", "returnees_several_sheets.xlsm"]
    for key in (
        "sheets",
        "skipped_sheets",
        "rows",
        "created",
        "updated",
        "duplicates",
        "without_phone",
        "legacy_converted",
        "warnings",
    ):
        assert all(key in line for line in lines), key
    assert lines[1]["warnings"] == [
        {
            "sheet": "Về từ vùng dịch",
            "row": 6,
            "column": "GIỚI TÍNH",
            "value": "X",
            "message": lines[1]["warnings"][0]["message"],
        }
    ]
    assert "refused_pdf_renamed.xlsx" in result.stderr
    assert (tmp_path / "report-list_utf8.xlsx").exists()
    assert (tmp_path / "report-returnees_several_sheets.xlsx").exists()

    listed = CliRunner().invoke(
        cli_app, ["contacts", "list", "--unit", "769", "--classification", "f1", "--json"]
    )
    assert listed.exit_code == 0
    contacts = json.loads(listed.stdout)
    assert len(contacts) == 7  # 2 of the CSV (one is F2) and the 5 returnees
    first = contacts[0]
    assert set(first) >= {
        "id",
        "name",
        "phone",
        "alt_phones",
        "sms_capable",
        "classification",
        "exposure_date",
        "birth_year",
        "sex",
        "address",
        "unit",
        "source",
        "extra",
    }
    assert first["source"] == {"file": "list_utf8.csv", "sheet": "list_utf8.csv", "row": 2}
    only_26794 = CliRunner().invoke(cli_app, ["contacts", "list", "--unit", "26794", "--json"])
    assert {c["unit"] for c in json.loads(only_26794.stdout)} == {"26794"}


def test_report_workbook_has_every_row_with_status_and_message(tmp_path):
    report = tmp_path / "out.xlsx"
    result = CliRunner().invoke(
        cli_app,
        [
            "import",
            str(FIXTURES / "f1_commune_list.xlsx"),
            "--unit",
            "769",
            "--report",
            str(report),
        ],
    )
    assert result.exit_code == 0, result.stderr
    workbook = CalamineWorkbook.from_path(str(report))
    rows = workbook.get_sheet_by_name("DS F1").to_python(skip_empty_area=False)
    assert rows[5][9:11] == ["Trạng thái / Status", "Ghi chú nhập / Message"]
    assert rows[8][1] == "Nguyễn Văn An" and rows[8][9] == "created"
    assert rows[23][9] == "duplicate" and "15" in rows[23][10]
    assert rows[19][9] == "warning" and "invalid phone" in rows[19][10]
    assert rows[28][9] == "skipped" and "no name" in rows[28][10]


def test_api_import_then_read_it_back_with_its_report_and_contacts(session):
    client = api_client(session)
    content = (FIXTURES / "f1_commune_list.xlsx").read_bytes()
    response = client.post(
        "/api/imports",
        files={"file": ("f1_commune_list.xlsx", content)},
        data={"unit": "769", "classification": "F1"},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["duplicates"], body["legacy_converted"]) == (18, 1, 1)
    batch = client.get(f"/api/imports/{body['batch_id']}").json()
    assert batch["created"] == 18 and batch["imported_by"] == "api:importer"
    assert batch["file_hash"] == body["file_hash"]
    report = client.get(f"/api/imports/{body['batch_id']}/report.xlsx")
    assert report.status_code == 200
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(report.content)).get_sheet_by_name("DS F1")
    assert sheet.to_python(skip_empty_area=False)[8][9] == "created"
    assert client.get("/api/imports/9999").status_code == 404

    page = client.get("/api/contacts", params={"page_size": 5, "page": 2}).json()
    assert page["total"] == 18 and len(page["items"]) == 5 and page["page"] == 2
    f3 = client.get("/api/contacts", params={"classification": "F3"}).json()
    assert [c["name"] for c in f3["items"]] == ["Phan Thị Rạng"]
    in_linh_chieu = client.get("/api/contacts", params={"unit": "26800"}).json()
    assert [c["name"] for c in in_linh_chieu["items"]] == ["Trần Thị Bình"]
    assert client.get("/api/contacts", params={"unit": "nope"}).status_code == 422

    dry = client.post(
        "/api/imports",
        files={"file": ("list.csv", (FIXTURES / "list_utf8.csv").read_bytes())},
        data={"dry_run": "true"},
    ).json()
    assert dry["dry_run"] is True and dry["created"] == 3 and dry["batch_id"] is None
    assert client.get("/api/contacts").json()["total"] == 18


def test_the_installed_command_exits_2_on_a_refused_file(subprocess_env):
    command = shutil.which("robocall", path=os.path.dirname(sys.executable))
    assert command is not None
    done = subprocess.run(
        [command, "import", str(FIXTURES / "refused_password.xlsx")],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "password-protected" in done.stderr
