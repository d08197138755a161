import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from robocall.units.models import Unit, UnitLevel


def test_times_come_back_aware_in_utc(session):
    hanoi = dt.timezone(dt.timedelta(hours=7))
    unit = Unit(
        code="1",
        name="Tỉnh A",
        level=UnitLevel.province,
        created_at=dt.datetime(2021, 8, 1, 9, 30, tzinfo=hanoi),
    )
    session.add(unit)
    session.commit()
    session.expire_all()
    stored = session.scalar(select(Unit).where(Unit.code == "1"))
    assert stored.created_at == dt.datetime(2021, 8, 1, 2, 30, tzinfo=dt.UTC)
    assert stored.created_at.tzinfo is not None


def test_naive_times_are_refused(session):
    session.add(
        Unit(
            code="2",
            name="Tỉnh B",
            level=UnitLevel.province,
            created_at=dt.datetime(2021, 8, 1, 9, 30),  # noqa: DTZ001 - the point of the test
        )
    )
    with pytest.raises(StatementError, match="naive datetime"):
        session.commit()
