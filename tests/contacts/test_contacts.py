from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.exc import IntegrityError

from robocall.contacts.models import Classification, Contact, OptOut, Sex
from robocall.contacts.service import (
    ContactQueryError,
    add_opt_out,
    is_opted_out,
    list_contacts,
)
from robocall.units.service import get_by_code

pytestmark = pytest.mark.usefixtures("units")


def _contact(session, name, unit_code, classification, phone=None):
    unit = get_by_code(db_session=session, code=unit_code)
    contact = Contact(
        name=name,
        match_key=name.casefold(),
        phone=phone,
        classification=classification,
        unit_id=unit.id,
        exposure_date=dt.date(2021, 7, 12),
        sex=Sex.female,
        extra={"Nghề nghiệp": "Nông"},
    )
    session.add(contact)
    return contact


def test_list_filters_by_unit_below_the_unit_and_classification(session):
    _contact(session, "Nguyễn Thị An", "26794", Classification.F1, "+84912345601")
    _contact(session, "Trần Văn Bình", "26800", Classification.F2)
    _contact(session, "Lê Thị Cúc", "26800", Classification.F1)
    session.commit()

    everyone = list_contacts(db_session=session)
    assert everyone.total == 3
    district = list_contacts(db_session=session, unit_code="769", classification="f1")
    assert [c["name"] for c in district.contacts] == ["Nguyễn Thị An", "Lê Thị Cúc"]
    commune = list_contacts(db_session=session, unit_code="26800")
    assert [c["name"] for c in commune.contacts] == ["Trần Văn Bình", "Lê Thị Cúc"]
    page = list_contacts(db_session=session, offset=1, limit=1)
    assert page.total == 3 and [c["name"] for c in page.contacts] == ["Trần Văn Bình"]

    first = everyone.contacts[0]
    assert first["phone"] == "+84912345601"
    assert first["exposure_date"] == "2021-07-12"
    assert first["sex"] == "female"
    assert first["unit"] == "26794"
    assert first["classification"] == "F1"
    assert first["extra"] == {"Nghề nghiệp": "Nông"}


def test_unknown_filters_are_errors_not_empty_lists(session):
    with pytest.raises(ContactQueryError, match="unknown unit"):
        list_contacts(db_session=session, unit_code="00000")
    with pytest.raises(ContactQueryError, match="unknown classification"):
        list_contacts(db_session=session, classification="F7")


def test_opt_out_is_recorded_once_per_number(session):
    assert not is_opted_out(db_session=session, phone="+84912345601")
    first = add_opt_out(db_session=session, phone="+84912345601", reason="SMS TUCHOI")
    again = add_opt_out(db_session=session, phone="+84912345601", reason="hotline")
    session.commit()
    assert first.id == again.id and again.reason == "SMS TUCHOI"
    assert is_opted_out(db_session=session, phone="+84912345601")
    assert not is_opted_out(db_session=session, phone="+84912345602")
    session.add(OptOut(phone="+84912345601"))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()
