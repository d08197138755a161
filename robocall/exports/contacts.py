"""The contacts export: everyone on the lists a user may see."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.contacts.models import Contact
from robocall.exports.tables import ExportUnitUnknown, Table
from robocall.kit.sheets import Cell, Column
from robocall.units.models import Unit
from robocall.units.service import descendant_ids, get_by_code
from robocall.users.scoping import within
from robocall.users.service import Scope

CONTACT_COLUMNS = [
    Column("Mã"),
    Column("Họ và tên"),
    Column("Phân loại"),
    Column("Điện thoại"),
    Column("Số khác"),
    Column("Năm sinh"),
    Column("Giới tính"),
    Column("Địa chỉ"),
    Column("Thôn/Tổ"),
    Column("Xã/Phường"),
    Column("Đơn vị"),
    Column("Ngày tiếp xúc"),
    Column("Nguồn lây"),
    Column("Ngày về"),
    Column("Về từ"),
    Column("Ghi chú"),
    Column("Tệp nguồn"),
    Column("Dòng"),
]
SEX_WORDS = {"male": "Nam", "female": "Nữ"}
_BATCH = 1000  # rows fetched per round trip


def unit_filter(*, db_session: Session, scope: Scope, unit_code: str | None) -> Scope:
    """The scope narrowed to one unit (and the units below it) when a code is given."""
    if not unit_code:
        return scope
    unit = get_by_code(db_session=db_session, code=unit_code)
    if unit is None or not scope.allows(unit.id):
        raise ExportUnitUnknown(f"unit: no unit with code {unit_code!r}")
    wanted = frozenset(descendant_ids(db_session=db_session, unit_id=unit.id))
    return Scope(wanted if scope.unit_ids is None else wanted & scope.unit_ids)


def _contact_rows(db_session: Session, scope: Scope) -> Iterator[Sequence[Cell]]:
    names = dict(db_session.execute(select(Unit.id, Unit.name)).all())
    query = within(select(Contact), Contact.unit_id, scope).order_by(
        Contact.commune, Contact.hamlet, Contact.name, Contact.id
    )
    for contact in db_session.scalars(query.execution_options(yield_per=_BATCH)):
        yield [
            contact.id,
            contact.name,
            contact.classification.value,
            contact.phone,
            ", ".join(contact.alt_phones or []),
            contact.birth_year,
            SEX_WORDS.get(contact.sex.value) if contact.sex else None,
            contact.address_detail,
            contact.hamlet,
            contact.commune,
            names.get(contact.unit_id) if contact.unit_id else None,
            contact.exposure_date,
            contact.source_case,
            contact.return_date,
            contact.returned_from,
            contact.notes,
            contact.source_file,
            contact.source_row,
        ]


def contact_tables(*, db_session: Session, scope: Scope) -> list[Table]:
    """The contacts export: one sheet, sorted by commune, hamlet and name."""
    return [Table("Danh sách", CONTACT_COLUMNS, _contact_rows(db_session, scope))]
