from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.privacy.helpers import District, build_district


@pytest.fixture
def district(session: Session) -> District:
    return build_district(session)
