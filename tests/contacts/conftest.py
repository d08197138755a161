from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

from robocall.contacts.models import Contact
from robocall.importers.models import ImportBatch
from robocall.units.models import Unit, UnitLevel
from robocall.units.service import ensure_sample_units


@pytest.fixture
def units(session: Session) -> Iterator[None]:
    """The sample district 769 (Thủ Đức) with communes Linh Trung, Linh Chiểu, Hiệp Bình Chánh."""
    ensure_sample_units(db_session=session)
    session.commit()
    yield
    # The unit tree's parent key is RESTRICT: empty it leaves first, so that the next test's
    # table clean-up (one DELETE per table) finds no child left under a deleted parent.
    session.rollback()
    session.execute(delete(Contact))
    session.execute(delete(ImportBatch))
    for level in (UnitLevel.commune, UnitLevel.district, UnitLevel.province):
        session.execute(delete(Unit).where(Unit.level == level))
    session.commit()
