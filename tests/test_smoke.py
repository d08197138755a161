from sqlalchemy import select

from robocall.units.models import Unit
from robocall.units.service import ensure_sample_units


def test_sample_units_load_into_a_clean_database(session):
    result = ensure_sample_units(db_session=session)
    session.commit()
    assert result.created == 5
    assert session.scalar(select(Unit).where(Unit.code == "26794")).parent.code == "769"
