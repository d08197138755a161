"""Each committed fixture file imports to exactly these contacts, counts and warnings."""

from __future__ import annotations

import unicodedata

import pytest

from tests.importers.helpers import contacts_by_row, run_import, warnings_by_row

pytestmark = pytest.mark.usefixtures("units")


def test_commune_list_with_letterhead_two_row_header_number_row_and_footer():
    result = run_import("f1_commune_list.xlsx", unit_code="769")

    assert result.sheets == ["DS F1"]
    assert result.skipped_sheets == []
    # 20 rows between the number row and the footer; one has no name.
    assert (result.rows, result.created, result.updated) == (20, 18, 0)
    assert (result.duplicates, result.skipped) == (1, 1)
    assert (result.without_phone, result.legacy_converted) == (2, 1)

    rows = contacts_by_row()
    phones = {row: (c["phone"], c["alt_phones"]) for row, c in rows.items()}
    assert phones == {
        9: ("+84912345601", []),  # number cell, leading zero lost
        10: ("+84912345602", []),  # spaces
        11: ("+84912345603", []),  # +84 and dashes
        12: ("+84912345604", []),  # leading apostrophe, 0084
        13: ("+84389123405", []),  # 0168 → 038, old 11-digit mobile
        15: ("+84912345606", ["+84987654306"]),  # "a / b"; row 24 merged into it
        16: ("+84912345607", []),  # Excel float as text
        17: ("+84912345608", []),  # scientific notation
        18: ("+84912345609", []),  # full-width digits
        19: ("+84912345610", ["+84987654310"]),  # "(chồng); b"
        20: (None, []),  # "không có"
        21: (None, []),  # empty
        22: ("+842838234567", []),  # landline
        23: ("+16502530000", []),  # foreign number
        25: ("+84912345699", []),  # same name as row 9, other phone: another person
        26: ("+84912345601", []),  # same phone as row 9, other name: another person
        27: ("+84912345620", ["+84987654320"]),  # "a - b"
        28: ("+84912345621", []),  # non-breaking and zero-width spaces
        # Row 14 is empty, row 29 has no name; rows 31-34 are the footer.
    }
    assert rows[22]["sms_capable"] is False
    assert all(rows[r]["sms_capable"] for r in (9, 13, 15, 23, 28))
    assert rows[20]["sms_capable"] is False

    exposure = {row: c["exposure_date"] for row, c in rows.items() if c["exposure_date"]}
    assert exposure == {
        9: "2021-07-12",  # date cell
        10: "2021-07-13",  # dd/mm/yyyy
        11: "2021-07-13",  # Excel serial number 44390
        12: "2021-07-05",  # d/m/yy
        13: "2021-07-14",  # dd-mm-yyyy
        15: "2021-07-20",  # 15.07.2021, then the later 20/07/2021 of its duplicate row 24
        16: "2021-07-16",  # ISO
    }
    classes = {row: c["classification"] for row, c in rows.items()}
    assert classes[9] == classes[10] == classes[11] == classes[12] == "F1"  # F1 f1 F 1 F-1
    assert classes[13] == "F2" and classes[28] == "F3"
    assert classes[15] == "F1"  # empty on row 15, filled by its duplicate

    merged = rows[15]
    assert merged["name"] == "Vũ Thị Hoà"
    assert merged["extra"] == {"Nghề nghiệp": "Buôn bán"}
    assert rows[9]["extra"] == {"Nghề nghiệp": "Nông"}
    assert rows[9]["address"] == {
        "detail": None,
        "hamlet": "Thôn 1",
        "commune": "Linh Trung",
        "district": None,
    }
    assert rows[9]["birth_year"] == 1985 and rows[11]["birth_year"] == 1978
    assert rows[9]["unit"] == "26794" and rows[10]["unit"] == "26800"
    assert rows[27]["unit"] == "769"  # unknown commune: the unit given
    assert rows[18]["extra"] == {"Ngày tiếp xúc": "32/13/2021"}  # unreadable date kept as text
    assert rows[20]["extra"] == {"SĐT": "không có"}
    assert rows[9]["source"] == {"file": "f1_commune_list.xlsx", "sheet": "DS F1", "row": 9}

    warnings = {(w["row"], w["column"], w["value"]): w["message"] for w in result.warnings}
    assert set(warnings) == {
        (18, "Ngày tiếp xúc", "32/13/2021"),
        (20, "SĐT", "không có"),
        (21, "SĐT", ""),
        (27, "Địa chỉ - Xã", "Xã Không Có"),
        (29, "Họ và tên", ""),
    }
    assert "unreadable date" in warnings[(18, "Ngày tiếp xúc", "32/13/2021")]
    assert "invalid phone" in warnings[(20, "SĐT", "không có")]
    assert "no phone" in warnings[(21, "SĐT", "")]
    assert "unknown commune" in warnings[(27, "Địa chỉ - Xã", "Xã Không Có")]
    assert "no name" in warnings[(29, "Họ và tên", "")]
    assert all(w["sheet"] == "DS F1" for w in result.warnings)

    statuses = {(sheet, row): status for sheet, row, status, _ in result.row_outcomes}
    assert statuses[("DS F1", 9)] == "created"
    assert statuses[("DS F1", 24)] == "duplicate"
    assert statuses[("DS F1", 20)] == "warning"
    assert statuses[("DS F1", 29)] == "skipped"
    assert [statuses[("DS F1", r)] for r in (31, 32, 33, 34)] == ["skipped"] * 4


def test_names_are_matched_across_case_and_tone_mark_placement():
    run_import("f1_commune_list.xlsx", unit_code="769")
    # "Vũ Thị Hoà" (row 15) and "vũ thị hòa" (row 24) with one phone are one person.
    names = [c["name"] for c in contacts_by_row().values()]
    assert names.count("Vũ Thị Hoà") == 1 and "vũ thị hòa" not in names
    assert names.count("Nguyễn Văn An") == 2


def test_xlsm_with_several_sheets_returnee_columns_and_sex_sub_columns():
    result = run_import("returnees_several_sheets.xlsm", unit_code="769", classification="F2")

    assert result.sheets == ["Về từ vùng dịch", "F2"]
    assert result.skipped_sheets == [
        {"sheet": "Hướng dẫn", "reason": "no recognisable name column"}
    ]
    assert (result.rows, result.created, result.duplicates, result.legacy_converted) == (
        5,
        5,
        0,
        1,
    )
    returnees = contacts_by_row("Về từ vùng dịch")
    assert {r: c["phone"] for r, c in returnees.items()} == {
        4: "+84987111001",
        5: "+84987111002",
        6: "+84834111003",  # 0123 → 083
    }
    assert returnees[4]["birth_date"] == "1990-03-14" and returnees[4]["birth_year"] == 1990
    assert returnees[5]["birth_date"] == "1984-02-29"
    assert returnees[6]["birth_year"] == 1995 and returnees[6]["birth_date"] is None
    assert [returnees[r]["sex"] for r in (4, 5, 6)] == ["female", "male", None]
    assert [returnees[r]["return_date"] for r in (4, 5, 6)] == [
        "2021-08-01",
        "2021-08-02",
        "2021-08-03",
    ]
    assert returnees[4]["returned_from"] == "TP Hồ Chí Minh"
    assert returnees[5]["notes"] == "cách ly tại nhà"
    assert all(c["classification"] == "F2" for c in returnees.values())  # --classification
    assert returnees[6]["extra"] == {"GIỚI TÍNH": "X"}
    assert [(w["sheet"], w["row"], w["column"], w["value"]) for w in result.warnings] == [
        ("Về từ vùng dịch", 6, "GIỚI TÍNH", "X")
    ]

    f2 = contacts_by_row("F2")
    assert {r: (c["name"], c["birth_year"], c["sex"]) for r, c in f2.items()} == {
        3: ("Âu Văn Vĩnh", 1977, "male"),
        4: ("Ông Thị Xuân", 1982, "female"),
    }
    assert f2[3]["source_case"] == "BN 1234"


def test_real_excel_97_2003_file():
    result = run_import("old_excel_97.xls", unit_code="26803")
    assert (result.rows, result.created, result.legacy_converted) == (3, 3, 1)
    assert result.warnings == []
    rows = contacts_by_row()
    assert {r: (c["phone"], c["exposure_date"]) for r, c in rows.items()} == {
        4: ("+84905000001", "2021-07-01"),
        5: ("+84792000002", "2021-07-02"),  # 1212000002: lost zero and 0121 → 079
        6: ("+84905000003", "2021-07-03"),  # Excel serial 44380
    }
    assert {c["unit"] for c in rows.values()} == {"26803"}


def test_opendocument_spreadsheet():
    result = run_import("commune_list.ods")
    assert (result.sheets, result.rows, result.created) == (["Linh Chiểu"], 2, 2)
    rows = contacts_by_row()
    assert {r: (c["name"], c["phone"], c["unit"]) for r, c in rows.items()} == {
        4: ("Đinh Văn Bảo", "+84936000001", "26800"),
        5: ("Cao Thị Chi", "+84936000002", "26800"),
    }


EXPECTED_TEXT_CONTACTS = {
    "Nguyễn Thị Ánh": ("+84933000001", 1990, "F1", "Ấp Bình Thuỷ"),
    "Trần Văn Đức": ("+84933000002", 1985, "F2", "Ấp 2"),
    "Lê Hoàng Yến": ("+84933000003", None, "F1", "Ấp 3"),
}


@pytest.mark.parametrize(
    "name",
    [
        "list_utf8.csv",
        "list_utf8_bom_semicolon.csv",
        "list_unicode_text.txt",
        "list_windows_1258.csv",
    ],
)
def test_text_files_in_every_encoding_and_delimiter(name):
    result = run_import(name, classification="F1")
    assert (result.rows, result.created, result.warnings) == (3, 3, [])
    contacts = contacts_by_row()
    found = {
        c["name"]: (c["phone"], c["birth_year"], c["classification"], c["address"]["hamlet"])
        for c in contacts.values()
    }
    assert found == EXPECTED_TEXT_CONTACTS
    for contact in contacts.values():
        assert unicodedata.is_normalized("NFC", contact["name"])
        assert unicodedata.is_normalized("NFC", contact["address"]["hamlet"])
        assert contact["unit"] == "26794"


def test_a_second_list_of_the_same_people_fills_and_updates_instead_of_doubling():
    first = run_import("list_utf8.csv")
    second = run_import("list_unicode_text.txt", classification="F1")
    assert first.created == 3
    # Lê Hoàng Yến had no classification: the second list gives F1.
    assert (second.created, second.updated, second.duplicates) == (0, 1, 2)
    contacts = contacts_by_row()
    assert len(contacts) == 3
    assert {c["name"]: c["classification"] for c in contacts.values()}["Lê Hoàng Yến"] == "F1"


def test_reimporting_the_same_file_is_reported_and_not_doubled():
    first = run_import("old_excel_97.xls")
    again = run_import("old_excel_97.xls")
    assert first.batch_id is not None
    assert again.already_imported == first.batch_id
    assert (again.created, again.batch_id) == (0, None)
    assert len(contacts_by_row()) == 3


def test_dry_run_writes_nothing_but_reports_the_same():
    dry = run_import("f1_commune_list.xlsx", unit_code="769", dry_run=True)
    assert (dry.created, dry.duplicates, dry.batch_id) == (18, 1, None)
    assert contacts_by_row() == {}
    real = run_import("f1_commune_list.xlsx", unit_code="769")
    assert real.created == 18
    assert warnings_by_row(real).keys() == warnings_by_row(dry).keys()


def test_a_commune_merged_down_over_its_people_belongs_to_each_of_them():
    result = run_import("merged_commune_cells.xlsx")
    assert (result.rows, result.created, result.skipped) == (6, 5, 1)
    rows = contacts_by_row()
    assert {r: (c["name"], c["unit"], c["classification"]) for r, c in rows.items()} == {
        3: ("Hà Văn Chung", "26794", "F1"),
        4: ("Hà Thị Diệp", "26794", "F1"),
        5: ("Hà Văn Đạt", "26794", "F1"),
        6: ("Kha Thị Én", "26800", "F1"),
        7: ("Kha Văn Gấm", "26800", "F2"),
    }
    # The heading "Tổ 1" across row 2 is not a person: reported, not imported.
    assert [(w["row"], w["column"]) for w in result.warnings] == [(2, "Họ và tên")]
