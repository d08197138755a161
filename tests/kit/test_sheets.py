import datetime as dt
import io
import zipfile
from zoneinfo import ZoneInfo

from python_calamine import CalamineWorkbook

from robocall.kit.sheets import Workbook, csv_bytes

VN = ZoneInfo("Asia/Ho_Chi_Minh")
EVIL = '=HYPERLINK("http://x","y")'


def test_workbook_keeps_formula_looking_text_as_text_and_dates_in_vietnam_time(tmp_path):
    path = tmp_path / "out.xlsx"
    with Workbook(path, VN) as book:
        sheet = book.sheet("Cuộc gọi", ["Họ tên", "Gọi lúc", "Ngày", "Số lần", "Có triệu chứng"])
        sheet.append(
            [EVIL, dt.datetime(2021, 8, 1, 1, 30, tzinfo=dt.UTC), dt.date(2021, 8, 15), 3, True]
        )
        sheet.append(["+84912345678", None, None, 0, False])
        sheet.append(["-1+2", None, None, None, None])
    with zipfile.ZipFile(path) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml  # no formula anywhere
    assert "<pane" in xml and 'state="frozen"' in xml
    assert "<autoFilter" in xml
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Cuộc gọi").to_python()
    assert rows[0] == ["Họ tên", "Gọi lúc", "Ngày", "Số lần", "Có triệu chứng"]
    assert rows[1][0] == EVIL
    assert rows[1][1] == dt.datetime(2021, 8, 1, 8, 30)  # 01:30 UTC is 08:30 in Vietnam  # noqa: DTZ001 - Excel holds local time
    assert rows[1][4] == "Có"
    assert rows[2][0] == "+84912345678" and rows[3][0] == "-1+2"


def test_csv_has_a_bom_and_neutralises_formulas():
    data = csv_bytes(
        ["Họ tên", "Số điện thoại", "Ngày"],
        [[EVIL, "+84912345678", dt.date(2021, 8, 15)], ["@SUM(A1)", "\tx", None]],
        VN,
    )
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0] == "Họ tên,Số điện thoại,Ngày"
    # An E.164 phone is only digits after its +: no formula, so no apostrophe either.
    assert lines[1] == '"\'=HYPERLINK(""http://x"",""y"")",+84912345678,15/08/2021'
    assert lines[2].startswith("'@SUM(A1),'\tx")


def test_large_sheets_stream(tmp_path):
    path = tmp_path / "big.xlsx"
    buffer = io.BytesIO()
    with Workbook(buffer, VN) as book:
        sheet = book.sheet("Tổng hợp", ["a", "b"])
        for i in range(20000):
            sheet.append([f"row {i}", i])
    path.write_bytes(buffer.getvalue())
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    assert len(rows) == 20001 and rows[-1] == ["row 19999", 19999]
