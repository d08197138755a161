"""The simulated network: rate and concurrency limits, faults, personas, inbound traffic."""

from __future__ import annotations

import httpx
from fastapi import Depends, FastAPI, Response
from sqlalchemy import select

from robocall.config import get_settings
from robocall.simulator.personas import Behaviour, Outcome
from robocall.telephony import service
from robocall.telephony.base import CallEventKind, CallStatus
from robocall.telephony.models import Call, CallEvent
from robocall.telephony.webhook_auth import signed_form
from tests.simulator.harness import adapter, running_simulator

RESIDENTS = [f"+8491234567{i}" for i in range(6)]


def place_all(session, simulator, numbers: list[str]) -> list[str]:
    provider = adapter(simulator)
    sids = [service.place_call(db_session=session, to=n, provider=provider).sid for n in numbers]
    session.commit()
    return sids


def test_calls_over_the_rate_are_queued_not_refused(session):
    personas = "default: {answer: 1}"
    with running_simulator(personas=personas, calls_per_second=10, max_concurrent=50) as simulator:
        sids = place_all(session, simulator, RESIDENTS)
        # Every create is accepted at once, as `queued`.
        assert all(simulator.network.calls[s].status for s in sids)
        simulator.wait_idle()
        started = sorted(simulator.network.calls[s].dialled_at or 0 for s in sids)
        statuses = {simulator.network.calls[s].status for s in sids}
    gaps = [b - a for a, b in zip(started, started[1:], strict=False)]
    assert min(gaps) >= 0.09  # 10 calls a second: one every 0.1 s
    assert statuses == {"completed"}


def test_no_more_calls_are_live_than_the_concurrency_limit(session):
    personas = "default: {answer: 1, talk: 50}"
    with running_simulator(
        personas=personas, calls_per_second=1000, max_concurrent=2, time_factor=0.002
    ) as simulator:
        place_all(session, simulator, RESIDENTS)
        simulator.wait_idle()
        assert simulator.network.peak_live_calls == 2
        assert {c.status for c in simulator.network.calls.values()} == {"completed"}


def test_the_default_mix_is_the_same_for_the_same_seed(session):
    personas = "default: {answer: 0.5, busy: 0.5, seed: 7}"
    outcomes = []
    for _ in range(2):
        with running_simulator(personas=personas) as simulator:
            sids = place_all(session, simulator, RESIDENTS)
            simulator.wait_idle()
            outcomes.append([simulator.network.calls[s].status for s in sids])
    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {"completed", "busy"}


def test_each_attempt_follows_the_next_behaviour_and_the_last_repeats(session):
    number = RESIDENTS[0]
    personas = f'numbers: {{"{number}": [busy, no_answer, human]}}'
    with running_simulator(personas=personas) as simulator:
        statuses = []
        for _ in range(4):
            (sid,) = place_all(session, simulator, [number])
            simulator.wait_idle()
            statuses.append(simulator.network.calls[sid].status)
    assert statuses == ["busy", "no-answer", "completed", "completed"]


def test_duplicate_and_out_of_order_callbacks_leave_the_right_final_state(session):
    with running_simulator() as simulator:
        simulator.network.faults.duplicate_callbacks = True
        simulator.network.faults.out_of_order_callbacks = True
        (sid,) = place_all(session, simulator, [RESIDENTS[0]])
        simulator.wait_idle()
        lines = simulator.network.transcripts.get(sid)
    order = [line["text"] for line in lines if line["text"].startswith("status ")]
    # completed first, then the answered event robocall also asks for, each twice.
    assert order == [
        "status completed",
        "status completed",
        "status in-progress",
        "status in-progress",
    ]
    call = session.scalar(select(Call).where(Call.sid == sid))
    assert call is not None
    assert call.status is CallStatus.completed
    assert call.duration_seconds is not None
    assert call.answered_at is not None and call.ended_at is not None
    assert call.answered_at <= call.ended_at
    events = session.scalars(
        select(CallEvent).where(CallEvent.kind == CallEventKind.status).order_by(CallEvent.id)
    ).all()
    assert [(e.status, e.applied) for e in events] == [
        (CallStatus.completed, True),
        (CallStatus.in_progress, False),
    ]


def test_delayed_callbacks_still_arrive(session):
    with running_simulator() as simulator:
        simulator.network.faults.callback_delay_seconds = 0.3
        (sid,) = place_all(session, simulator, [RESIDENTS[0]])
        simulator.wait_idle()
    call = session.scalar(select(Call).where(Call.sid == sid))
    assert call is not None and call.status is CallStatus.completed


def test_a_webhook_that_times_out_is_noted_and_the_call_goes_on(session):
    with running_simulator() as simulator:
        simulator.network.faults.webhook_timeouts = ["/webhooks/twilio/status"]
        (sid,) = place_all(session, simulator, [RESIDENTS[0]])
        simulator.wait_idle()
        lines = simulator.network.transcripts.get(sid)
    callbacks = [line for line in lines if line["kind"] == "callback"]
    assert callbacks[0]["answer"].startswith("timeout")
    assert all(line["answer"] == "204" for line in callbacks[1:])
    call = session.scalar(select(Call).where(Call.sid == sid))
    assert call is not None and call.status is CallStatus.completed


def test_a_voice_url_that_times_out_ends_the_call_with_an_application_error(session):
    with running_simulator() as simulator:
        simulator.network.faults.webhook_timeouts = ["/webhooks/twilio/voice"]
        (sid,) = place_all(session, simulator, [RESIDENTS[0]])
        simulator.wait_idle()
        lines = simulator.network.transcripts.get(sid)
    assert any("11205" in line["text"] for line in lines if line["kind"] == "error")
    assert not [line for line in lines if line["kind"] == "say"]


def test_transcripts_and_faults_over_the_simulators_api(session):
    settings = get_settings()
    auth = (settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value())
    with running_simulator() as simulator, httpx.Client(base_url=simulator.url) as http:
        refused = http.post("/simulator/faults", json={"create_errors": [429]})
        unknown = http.post("/simulator/faults", json={"gremlins": True}, auth=auth)
        wrong = http.post("/simulator/faults", json={"create_errors": "429"}, auth=auth)
        set_ = http.post("/simulator/faults", json={"create_errors": [500]}, auth=auth)
        (sid,) = place_all(session, simulator, [RESIDENTS[0]])
        simulator.wait_idle()
        transcript = http.get(f"/simulator/calls/{sid}/transcript", auth=auth)
        missing = http.get(f"/simulator/calls/CA{'0' * 32}/transcript", auth=auth)
        creates = [name for name, _ in simulator.network.requests if name == "CreateCall"]
    assert refused.status_code == 401
    assert unknown.status_code == 400 and "gremlins" in unknown.json()["message"]
    assert wrong.status_code == 400 and "create_errors" in wrong.json()["message"]
    assert set_.status_code == 200 and set_.json()["create_errors"] == [500]
    assert len(creates) == 2  # the 500, then the retry
    assert transcript.status_code == 200
    assert transcript.json()["lines"][0]["kind"] == "call"
    assert missing.status_code == 404


def test_an_sms_reply_in_twiml_reaches_the_resident():
    app = FastAPI()

    @app.post("/webhooks/twilio/sms")
    async def reply(form: dict[str, str] = Depends(signed_form)) -> Response:
        text = f"<Response><Message>Đã nhận: {form['Body']}</Message></Response>"
        return Response(content=text, media_type="application/xml")

    with running_simulator(app=app) as simulator:
        result = simulator.run(
            simulator.network.inbound_sms(
                from_=RESIDENTS[0], to=get_settings().hotline_number, body="KHOE"
            )
        )
        replies = [
            m for m in simulator.network.messages.values() if m.direction == "outbound-reply"
        ]
    assert result["answer"] == "200"
    assert result["replies"] == ["Đã nhận: KHOE"]
    assert [(m.to, m.body) for m in replies] == [(RESIDENTS[0], "Đã nhận: KHOE")]


def test_the_application_can_reject_an_inbound_call_unanswered():
    app = FastAPI()

    @app.post("/webhooks/twilio/hotline")
    async def reject(form: dict[str, str] = Depends(signed_form)) -> Response:
        text = '<Response><Reject reason="busy"/></Response>'
        return Response(content=text, media_type="application/xml")

    with running_simulator(app=app) as simulator:
        call = simulator.run(
            simulator.network.inbound_call(
                from_=RESIDENTS[0],
                to=get_settings().hotline_number,
                behaviour=Behaviour(Outcome.human, press=("1",)),
            )
        )
        simulator.wait_idle()
        lines = simulator.network.transcripts.get(call.sid)
    assert call.status == "busy"
    assert call.start_time is None and call.duration_seconds == 0
    assert [line["text"] for line in lines if line["kind"] == "callback"] == [
        "status ringing",
        "status busy",
    ]


def test_the_simulator_counts_calls_created_as_a_provider_counts_its_rate(session):
    settings = get_settings()
    auth = (settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value())
    personas = "default: {answer: 1}"
    with (
        running_simulator(personas=personas) as simulator,
        httpx.Client(base_url=simulator.url) as http,
    ):
        refused = http.get("/simulator/stats")
        place_all(session, simulator, RESIDENTS[:4])
        simulator.wait_idle()
        place_all(session, simulator, RESIDENTS[4:])
        stats = http.get("/simulator/stats", auth=auth).json()
    assert refused.status_code == 401
    assert stats["calls_created"] == 6
    # The first four were created back to back, within one second.
    assert 4 <= stats["most_created_in_one_second"] <= 6
    assert stats["first_created"] <= stats["last_created"]
