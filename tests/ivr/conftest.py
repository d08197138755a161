from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from robocall.ivr import service
from robocall.web.app import create_app


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture(autouse=True)
def no_contact_lookups() -> Iterator[None]:
    """Each test starts with nobody known, and leaves it so."""
    service.set_contact_lookups(by_phone=None, by_id=None)
    yield
    service.set_contact_lookups(by_phone=None, by_id=None)
