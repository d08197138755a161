from __future__ import annotations

import datetime as dt

import pytest

from robocall.contacts.models import Classification
from robocall.db import session_scope
from robocall.importers.service import import_file
from robocall.importers.values import (
    ValueProblem,
    parse_birth_year,
    parse_classification,
    parse_date,
)
from robocall.kit.text import name_key
from tests.importers.helpers import contacts_by_row


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("05/07/2021", dt.date(2021, 7, 5)),
        ("5/7/21", dt.date(2021, 7, 5)),
        ("05-07-2021", dt.date(2021, 7, 5)),
        ("05.07.2021", dt.date(2021, 7, 5)),
        ("2021-07-05", dt.date(2021, 7, 5)),
        ("2021-07-05 00:00:00", dt.date(2021, 7, 5)),
        (44382, dt.date(2021, 7, 5)),
        (44382.0, dt.date(2021, 7, 5)),
        ("44382", dt.date(2021, 7, 5)),
        # A date cell: calamine gives the naive date and time Excel holds.
        (dt.datetime(2021, 7, 5, 8, 30), dt.date(2021, 7, 5)),  # noqa: DTZ001
        ("ngày 5 tháng 7 năm 2021", dt.date(2021, 7, 5)),
    ],
)
def test_dates_are_always_day_first(written, expected):
    assert parse_date(written) == expected


@pytest.mark.parametrize("written", ["31/02/2021", "hôm qua", "7/2021", 12, True])
def test_unreadable_dates_are_problems(written):
    with pytest.raises(ValueProblem):
        parse_date(written)


@pytest.mark.parametrize("written", ["²", "19²0", "4438²"])
def test_superscript_digits_are_a_problem_not_a_crash(written):
    # str.isdigit() says yes to "²", int() says no: a cell like this once stopped an import.
    with pytest.raises(ValueProblem):
        parse_birth_year(written)
    with pytest.raises(ValueProblem):
        parse_date(written)


@pytest.mark.parametrize("written", ["F1", "f1", "F 1", "F-1", " f_1 ", "F.1"])
def test_classification_spellings(written):
    assert parse_classification(written) is Classification.F1


def test_tone_mark_placement_and_case_do_not_change_the_match_key():
    assert name_key("Vũ Thị Hoà") == name_key("vũ thị hòa") == name_key("VŨ THỊ HOÀ")
    assert name_key("Nguyễn Thị Thuỷ") == name_key("Nguyễn Thị Thủy")
    assert name_key("Hoà") != name_key("Hoa") != name_key("Hóa")


def test_an_invalid_extra_number_is_warned_and_kept_as_written(session):
    content = "Họ tên,SĐT,Ghi chú\nLò Văn Ánh,0912345678 / 12345 (bố),về từ Lào\n".encode()
    with session_scope() as scoped:
        result = import_file(db_session=scoped, content=content, file_name="a.csv")
    assert [(w["row"], w["column"], w["value"]) for w in result.warnings] == [
        (2, "SĐT", "12345"),
        (2, "commune", ""),  # no commune column and no --unit: no unit
    ]
    assert "invalid extra phone" in result.warnings[0]["message"]
    assert "no unit" in result.warnings[1]["message"]
    contact = contacts_by_row()[2]
    assert contact["phone"] == "+84912345678" and contact["alt_phones"] == []
    assert contact["extra"] == {"SĐT": "0912345678 / 12345 (bố)"}
    assert contact["notes"] == "về từ Lào"
    assert contact["unit"] is None


def test_lists_pasted_together_do_not_make_contacts_of_their_headers(session):
    content = (
        "STT;Họ và tên;SĐT\r\n(1);(2);(3)\r\n1;Vi Văn Hải;0914000001\r\n"
        "STT;Họ và tên;SĐT\r\n(1);(2);(3)\r\n1;Vi Thị Hằng;0914000002\r\n"
    ).encode()
    with session_scope() as scoped:
        result = import_file(db_session=scoped, content=content, file_name="pasted.csv")
    assert (result.rows, result.created) == (2, 2)
    assert [c["name"] for c in contacts_by_row().values()] == ["Vi Văn Hải", "Vi Thị Hằng"]
    statuses = {row: status for _, row, status, _ in result.row_outcomes}
    assert statuses == {3: "warning", 4: "skipped", 5: "skipped", 6: "warning"}
