"""Property-based: every way a list writes a mobile gives one E.164; no input crashes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math

import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from robocall.contacts.phones import (
    LEGACY_PREFIXES,
    parse_national,
    parse_national_slow,
    parse_phone_cell,
)
from robocall.importers.reading import ImportRefused, decode_text, detect_delimiter
from robocall.importers.service import import_file

# Mobile prefixes in use (after 0): Viettel, Vinaphone, MobiFone, Vietnamobile, Gmobile …
MOBILE_PREFIXES = [
    "32", "33", "34", "35", "36", "37", "38", "39", "56", "58", "59", "70", "76", "77", "78",
    "79", "81", "82", "83", "84", "85", "86", "88", "90", "91", "92", "93", "94", "96", "97",
    "98",
]  # fmt: skip
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@st.composite
def mobiles(draw: st.DrawFn) -> str:
    """A valid Vietnamese mobile as its 9 national significant digits."""
    return draw(st.sampled_from(MOBILE_PREFIXES)) + draw(st.from_regex(r"\A[0-9]{7}\Z"))


def _grouped(digits: str, separator: str) -> str:
    return separator.join([digits[:4], digits[4:7], digits[7:]])


@st.composite
def written_forms(draw: st.DrawFn, nsn: str) -> object:
    national = "0" + nsn
    form = draw(st.integers(0, 13))
    separator = draw(st.sampled_from([" ", ".", "-", " . ", "\u00a0", "\u200b"]))
    if form == 0:
        return national
    if form == 1:
        return int(nsn)  # a number cell: the leading zero is gone
    if form == 2:
        return float(nsn)  # Excel's float
    if form == 3:
        return f"{int(nsn)}.0"
    if form == 4:
        return f"{int(nsn) / 10**8!r}E8".replace("E8", draw(st.sampled_from(["E8", "E+08"])))
    if form == 5:
        return _grouped(national, separator)
    if form == 6:
        return "+84 " + _grouped(nsn, separator)
    if form == 7:
        return "84" + nsn
    if form == 8:
        return "0084" + nsn
    if form == 9:
        return national.translate(FULL_WIDTH)
    if form == 10:
        return "'" + national
    if form == 11:
        return f"({national[:4]}) {national[4:]}"
    if form == 12:
        note = draw(st.sampled_from(["(chồng)", "(vợ)", "(con trai)", "[mẹ]"]))
        return f"{_grouped(national, separator)} {note}"
    return f"\u200b {national}\u00a0"


@given(data=st.data(), nsn=mobiles())
def test_every_written_form_of_a_mobile_gives_the_same_e164(data, nsn):
    value = data.draw(written_forms(nsn))
    cell = parse_phone_cell(value)
    assert cell.phone is not None, value
    assert cell.phone.e164 == "+84" + nsn
    assert cell.phone.sms_capable
    assert not cell.phone.legacy


@given(
    prefix=st.sampled_from(sorted(LEGACY_PREFIXES)),
    rest=st.from_regex(r"\A[0-9]{7}\Z"),
    separator=st.sampled_from(["", " ", ".", "-"]),
    as_number=st.booleans(),
)
def test_old_11_digit_mobiles_become_their_new_number(prefix, rest, separator, as_number):
    old = prefix + rest
    value: object = int(old) if as_number else f"{old[:4]}{separator}{old[4:7]}{separator}{old[7:]}"
    cell = parse_phone_cell(value)
    assert cell.phone is not None
    assert cell.phone.e164 == "+84" + LEGACY_PREFIXES[prefix][1:] + rest
    assert cell.phone.legacy


@given(
    first=mobiles(),
    second=mobiles(),
    joiner=st.sampled_from([" / ", "/", ";", "; ", ", ", " - ", " và ", "\n"]),
)
def test_several_numbers_in_one_cell_keep_the_others_as_alternatives(first, second, joiner):
    cell = parse_phone_cell(f"0{first}{joiner}0{second}")
    assert cell.phone is not None and cell.phone.e164 == "+84" + first
    expected = () if first == second else ("+84" + second,)
    assert tuple(p.e164 for p in cell.alt_phones) == expected


@settings(max_examples=400)
@given(national=st.from_regex(r"\A0[0-9]{8,10}\Z"))
def test_the_fast_path_gives_the_answer_of_phonenumbers(national):
    if len(national) == 11 and national[:4] in LEGACY_PREFIXES:
        return  # converted first: covered above
    fast = parse_national(national)
    slow = parse_national_slow(national)
    assert fast == slow


cells = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["Họ và tên", "SĐT", "Năm sinh", "Phân loại", "F1", "Người lập biểu"]),
)


@given(value=cells)
def test_no_cell_value_breaks_the_phone_reader(value):
    cell = parse_phone_cell(value)
    assert cell.phone is None or cell.phone.e164.startswith("+")


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(st.lists(cells, min_size=1, max_size=6), max_size=8),
    header=st.booleans(),
    delimiter=st.sampled_from([",", ";", "\t"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1258"]),
)
def test_the_importer_refuses_or_imports_any_text_file(
    session: Session, rows, header, delimiter, encoding
):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    if header:
        writer.writerow(["STT", "Họ và tên", "SĐT", "Ngày tiếp xúc", "Phân loại", "Năm sinh"])
    for row in rows:
        writer.writerow(["" if c is None else c for c in row])
    content = buffer.getvalue().encode(encoding, errors="replace")
    try:
        result = import_file(
            db_session=session, content=content, file_name="fuzz.csv", dry_run=True
        )
    except ImportRefused as exc:
        assert str(exc).startswith(("fuzz.csv:", "unknown"))
    else:
        assert result.rows >= result.created
    finally:
        session.rollback()


@given(content=st.binary(max_size=300), name=st.sampled_from(["a.xlsx", "a.xls", "a.csv"]))
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_the_importer_refuses_or_imports_any_bytes(session: Session, content, name):
    try:
        import_file(db_session=session, content=content, file_name=name, dry_run=True)
    except ImportRefused:
        pass
    finally:
        session.rollback()


@given(text=st.text(max_size=200))
def test_text_decoding_round_trips_utf8_and_utf16(text):
    import unicodedata

    expected = unicodedata.normalize("NFC", text)
    assert decode_text(text.encode("utf-8-sig")) == expected
    assert decode_text(text.encode("utf-16")) == expected
    detect_delimiter(text)


excel_cells = st.one_of(
    cells,
    st.booleans(),
    st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2100, 1, 1)),
    st.sampled_from(["", " ", "=1+1", "F 1", "f-2", "Nam", "Nữ", "32/13/2021", "0912 345 678"]),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(st.lists(excel_cells, min_size=1, max_size=7), max_size=8),
    title_rows=st.integers(0, 3),
)
def test_the_importer_refuses_or_imports_any_workbook(session: Session, rows, title_rows):
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False})
    sheet = workbook.add_worksheet("F1")
    for r in range(title_rows):
        sheet.write_string(r, 0, "DANH SÁCH F1")
    header = ["STT", "Họ và tên", "SĐT", "Ngày tiếp xúc", "Phân loại", "Năm sinh", "Giới tính"]
    sheet.write_row(title_rows, 0, header)
    for r, row in enumerate(rows, start=title_rows + 1):
        for c, value in enumerate(row):
            if isinstance(value, dt.date):
                sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()))
            elif isinstance(value, float) and not math.isfinite(value):
                sheet.write_string(r, c, str(value))
            elif value is not None:
                sheet.write(r, c, value)
    workbook.close()
    try:
        result = import_file(
            db_session=session, content=buffer.getvalue(), file_name="fuzz.xlsx", dry_run=True
        )
    except ImportRefused as exc:
        assert "the list is empty" in str(exc)
    else:
        assert result.sheets == ["F1"]
        assert result.created + result.duplicates + result.skipped == result.rows
    finally:
        session.rollback()
