"""Exports: the right sheets, the BOM, formula-looking text kept as text, the situation figures."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
from python_calamine import CalamineWorkbook
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from robocall.cli import app as cli_app
from robocall.config import get_settings
from robocall.contacts.models import Contact
from robocall.importers.service import import_file
from robocall.units.service import get_by_code
from robocall.users.models import Role
from tests.web.conftest import HIEP_BINH, LINH_CHIEU, LINH_TRUNG, World
from tests.web.helpers import signed_in_client

FORMULA = '=HYPERLINK("http://x","y")'


def _add_formula_name(session: Session) -> None:
    unit = get_by_code(db_session=session, code=LINH_TRUNG)
    session.add(Contact(unit_id=unit.id, name=FORMULA, match_key=FORMULA, phone="+84912000077"))
    session.commit()


def _sheet_rows(content: bytes, name: str) -> list[list[object]]:
    book = CalamineWorkbook.from_filelike(io.BytesIO(content))
    return book.get_sheet_by_name(name).to_python()


def test_contacts_export_as_workbook_and_csv_keeps_formulas_as_text(session, world, tmp_path):
    _add_formula_name(session)
    runner = CliRunner()
    xlsx = tmp_path / "contacts.xlsx"
    result = runner.invoke(cli_app, ["export", "contacts", "--out", str(xlsx)])
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(xlsx)
    assert book.sheetnames == ["Danh sách"]
    sheet = book["Danh sách"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["Mã", "Họ và tên", "Phân loại", "Điện thoại"]
    names = {row[1].value: row[1] for row in sheet.iter_rows(min_row=2)}
    assert {"Nguyễn Văn An", "Lê Thị Bình", FORMULA} <= set(names)
    cell = names[FORMULA]
    assert cell.data_type == "s" and cell.value == FORMULA  # a string, never a formula

    csv_path = tmp_path / "contacts.csv"
    result = runner.invoke(cli_app, ["export", "contacts", "--out", str(csv_path)])
    assert result.exit_code == 0, result.output
    raw = csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert "'" + FORMULA.replace('"', '""') in text  # quoted by csv, led by an apostrophe
    assert "Nguyễn Văn An" in text

    one_unit = tmp_path / "linh-chieu.csv"
    result = runner.invoke(
        cli_app, ["export", "contacts", "--out", str(one_unit), "--unit", LINH_CHIEU]
    )
    assert result.exit_code == 0
    only = one_unit.read_text(encoding="utf-8-sig")
    assert "Lê Thị Bình" in only and "Nguyễn Văn An" not in only


def test_export_refusals_name_the_problem(world, tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli_app, ["export", "contacts", "--out", str(tmp_path / "x.pdf")])
    assert result.exit_code == 2 and "must end in .xlsx or .csv" in result.stderr
    result = runner.invoke(
        cli_app, ["export", "contacts", "--out", str(tmp_path / "x.xlsx"), "--unit", "99"]
    )
    assert result.exit_code == 2 and "no unit with code '99'" in result.stderr
    assert not (tmp_path / "x.xlsx").exists()
    result = runner.invoke(
        cli_app, ["export", "situation", "--out", str(tmp_path / "s.xlsx"), "--date", "23/11"]
    )
    assert result.exit_code == 2 and "--date" in result.stderr


def test_reports_export_is_urgent_first_in_both_formats(session, world: World):
    client = signed_in_client(session, "quantri", Role.admin, None)
    response = client.get("/exports/reports.xlsx")
    assert response.status_code == 200
    assert "reports-" in response.headers["content-disposition"]
    rows = _sheet_rows(response.content, "Phản ánh")
    assert rows[0][:3] == ["Mã", "Thời gian", "Khẩn cấp"]
    urgent = [row[2] for row in rows[1:]]
    assert urgent == ["Có", "Có", "Không"]
    csv = client.get("/exports/reports.csv")
    assert csv.content.startswith(b"\xef\xbb\xbf")
    assert csv.headers["content-type"].startswith("text/csv")
    assert client.get("/exports/situation.csv").status_code == 422
    assert client.get("/exports/nothing.xlsx").status_code == 404


def test_situation_report_per_commune(session, world: World, tmp_path):
    today = dt.datetime.now(get_settings().zone).date()
    import_file(
        db_session=session,
        content="Họ tên,Số điện thoại\nPhạm Văn Cường,0912000009\n".encode(),
        file_name="hiep-binh.csv",
        unit_code=HIEP_BINH,
    )
    session.commit()
    out = tmp_path / "situation.xlsx"
    result = CliRunner().invoke(
        cli_app,
        ["export", "situation", "--out", str(out), "--date", today.isoformat()],
    )
    assert result.exit_code == 0, result.output
    content = out.read_bytes()
    assert CalamineWorkbook.from_filelike(io.BytesIO(content)).sheet_names == [
        "Tình hình",
        "Chưa gửi danh sách",
    ]
    rows = {row[1]: row for row in _sheet_rows(content, "Tình hình")[1:]}
    # name: total, monitored, added today, ending today, ending tomorrow, reached, symptoms,
    # urgent, sent a list today
    assert rows["Phường Linh Trung"][2:] == [2, 2, 2, 1, 0, 1, 2, 1, "Không"]
    assert rows["Phường Linh Chiểu"][2:] == [1, 1, 1, 0, 1, 0, 1, 1, "Không"]
    assert rows["Phường Hiệp Bình Chánh"][2:] == [1, 0, 1, 0, 0, 0, 0, 0, "Có"]
    assert rows["Tổng cộng"][2:10] == [4, 3, 4, 1, 1, 1, 3, 2]
    silent = [row[1] for row in _sheet_rows(content, "Chưa gửi danh sách")[1:]]
    assert silent == ["Phường Linh Chiểu", "Phường Linh Trung"]

    # Yesterday nobody was added and nobody was reached.
    yesterday = tmp_path / "yesterday.xlsx"
    CliRunner().invoke(
        cli_app,
        ["export", "situation", "--out", str(yesterday), "--date", str(today - dt.timedelta(1))],
    )
    rows = {row[1]: row for row in _sheet_rows(yesterday.read_bytes(), "Tình hình")[1:]}
    assert rows["Phường Linh Trung"][4] == 0 and rows["Phường Linh Trung"][7] == 0
    # On the dashboard too, with the communes that sent nothing.
    client = signed_in_client(session, "quantri", Role.admin, None)
    page = client.get("/").text
    assert 'id="silent-communes"' in page and "Phường Linh Chiểu" in page
