"""The whole hotline path on real parts: a resident calls through the simulator, is matched to
their contact, reports breathlessness, and the duty numbers of their district get an SMS sent
through the Twilio adapter by an rq worker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from robocall.cli.tryout import try_flow
from robocall.contacts.models import Classification, Contact
from robocall.hotline import notify
from robocall.hotline.models import HotlineReport
from robocall.ivr import service as ivr
from robocall.processes import make_worker
from robocall.runtime import stop_embedded_simulator
from robocall.telephony.messages import Message
from robocall.telephony.provider import reset_provider
from robocall.units.service import ensure_sample_units, get_by_code
from robocall.web.app import create_app

RESIDENT = "+84912345678"
DISTRICT_DUTY = {"+84912000769", "+84987000769"}  # ivr_flows/duty.yaml, unit 769


@pytest.fixture
def wired() -> Iterator[None]:
    from robocall.runtime import wire

    wire()  # real contact lookups and the provider as the SMS sender, as in `robocall worker`
    yield
    stop_embedded_simulator()
    reset_provider()
    notify.set_sms_sender(None)
    ivr.set_contact_lookups(by_phone=None, by_id=None)


def test_known_caller_pressing_one_throughout_reaches_the_duty_doctor_by_sms(session, wired):
    ensure_sample_units(db_session=session)
    commune = get_by_code(db_session=session, code="26794")
    contact = Contact(
        unit_id=commune.id,
        name="Trần Thị Bình",
        match_key="tran thi binh",
        phone=RESIDENT,
        sms_capable=True,
        classification=Classification.F1,
    )
    session.add(contact)
    session.commit()

    # Main menu 1 = report symptoms, then 1 (yes) to every question.
    tried = try_flow(flow="hotline", phone=RESIDENT, press="1 1 1 1 1 1 1 1 1", app=create_app())
    assert tried.status == "completed"

    session.rollback()
    report = session.scalar(select(HotlineReport))
    assert report is not None
    assert report.contact_id == contact.id and report.unit_id == commune.id
    assert report.urgent and {"fever", "cough", "shortness_of_breath"} <= set(report.symptoms)

    report_id = report.id
    session.rollback()  # end the read: on SQLite an open transaction would hold up the worker

    # The alerts were queued after the webhook's commit; a worker sends them.
    make_worker(["sms"], threaded=True).work(burst=True)
    session.rollback()
    alerts = session.scalars(select(Message).where(Message.to_number.in_(DISTRICT_DUTY))).all()
    assert {m.to_number for m in alerts} == DISTRICT_DUTY
    assert all(f"#{report_id}" in m.body for m in alerts)
