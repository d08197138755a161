from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from robocall.config import reset_settings_cache
from robocall.contacts.models import Classification, Contact
from robocall.hotline import notify
from robocall.ivr import service as ivr
from robocall.runtime import stop_embedded_simulator
from robocall.telephony.provider import reset_provider
from robocall.units.models import Unit
from robocall.units.service import ensure_sample_units

SIMULATOR_ENV = (
    "ROBOCALL_SIMULATOR_PERSONAS",
    "ROBOCALL_SIMULATOR_TIME_FACTOR",
    "ROBOCALL_SIMULATOR_CPS",
    "ROBOCALL_SIMULATOR_MAX_CONCURRENT",
)


@pytest.fixture(autouse=True)
def campaign_process(redis_url: str) -> Iterator[None]:
    """Each test wires campaigns in, and leaves the process as other domains expect it."""
    from robocall.runtime import wire

    wire()
    yield
    stop_embedded_simulator()
    for name in SIMULATOR_ENV:
        os.environ.pop(name, None)
    reset_settings_cache()
    reset_provider()
    notify.set_sms_sender(None)
    notify.set_sent_lookup(None)
    ivr.set_contact_lookups(by_phone=None, by_id=None)


@pytest.fixture
def commune(session: Session) -> Unit:
    ensure_sample_units(db_session=session)
    session.commit()
    unit = session.query(Unit).filter(Unit.level == "commune").order_by(Unit.id).first()
    assert unit is not None
    return unit


@pytest.fixture
def add_contact(session: Session, commune: Unit) -> Callable[..., Contact]:
    def add(name: str, phone: str | None, *, sms_capable: bool = True, **fields: object) -> Contact:
        contact = Contact(
            unit_id=commune.id,
            name=name,
            match_key=name.lower(),
            phone=phone,
            sms_capable=sms_capable and phone is not None,
            classification=fields.pop("classification", Classification.F1),
            **fields,
        )
        session.add(contact)
        session.flush()
        return contact

    return add


@pytest.fixture
def personas_file(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str) -> Path:
        path = tmp_path / "personas.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write
