"""Residents following TwiML: each verb as Twilio performs it, each request signed."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request, Response

from robocall.telephony.webhook_auth import signed_form
from tests.simulator.harness import adapter, running_simulator

BASE = "https://robocall.test"
RESIDENT = "+84912345678"


class TwimlApp:
    """A stand-in for robocall's voice webhooks: serves given documents, records requests."""

    def __init__(self, documents: dict[str, str]) -> None:
        self.documents = documents
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.app = FastAPI()

        @self.app.post("/{path:path}")
        async def serve(request: Request, form: dict[str, str] = Depends(signed_form)) -> Response:
            path = "/" + request.path_params["path"]
            self.requests.append((path, form))
            if path not in self.documents:
                return Response(status_code=404)
            body = (
                f'<?xml version="1.0" encoding="UTF-8"?><Response>{self.documents[path]}</Response>'
            )
            return Response(content=body, media_type="application/xml")

    def posted(self, path: str) -> list[dict[str, str]]:
        return [form for p, form in self.requests if p == path]


def call_through(
    documents: dict[str, str], personas: str, *, to: str = RESIDENT
) -> tuple[TwimlApp, list[dict[str, Any]], str]:
    stand_in = TwimlApp(documents)
    with running_simulator(personas=personas, app=stand_in.app) as simulator:
        placed = adapter(simulator).place_call(
            to=to,
            caller_id="+842873001234",
            answer_url=f"{BASE}/start",
            status_url=f"{BASE}/status",
            machine_detection=False,
            amd_url=None,
            ring_timeout_seconds=30,
        )
        simulator.wait_idle()
        call = simulator.network.calls[placed.sid]
        return stand_in, simulator.network.transcripts.get(placed.sid), call.status


def said(lines: list[dict[str, Any]], kind: str) -> list[str]:
    return [line["text"] for line in lines if line["kind"] == kind]


def test_keys_are_pressed_at_each_gather_in_turn_and_the_last_repeats():
    gather = '<Gather numDigits="1" action="/answer"><Say>Câu hỏi</Say></Gather>'
    documents = {"/start": gather, "/answer": gather}
    personas = f'numbers: {{"{RESIDENT}": [{{answer: human, press: "1 2", hangup_after: 4}}]}}'
    stand_in, lines, status = call_through(documents, personas)
    assert [form["Digits"] for form in stand_in.posted("/answer")] == ["1", "2", "2", "2"]
    assert said(lines, "hangup") == ["the resident hangs up after 4 answers"]
    assert status == "completed"
    # Everything the network sends about the call carries its fields.
    first = stand_in.posted("/start")[0]
    assert first["CallStatus"] == "in-progress" and first["Direction"] == "outbound-api"
    assert first["To"] == RESIDENT


def test_finish_on_key_and_num_digits_decide_what_digits_are_sent():
    documents = {
        "/start": '<Gather finishOnKey="#" action="/id"><Say>Nhập năm sinh</Say></Gather>',
        "/id": '<Gather numDigits="2" action="/short"/>',
        "/short": "<Hangup/>",
    }
    personas = f'numbers: {{"{RESIDENT}": [{{answer: human, press: "1985# 1234"}}]}}'
    stand_in, _lines, _status = call_through(documents, personas)
    first = stand_in.posted("/id")[0]
    assert first["Digits"] == "1985" and first["FinishedOnKey"] == "#"
    assert stand_in.posted("/short")[0]["Digits"] == "12"


def test_an_unanswered_gather_falls_through_or_posts_empty_when_asked():
    documents = {
        "/start": '<Gather timeout="3" action="/never"/><Say>Không nhận được</Say>'
        '<Gather timeout="3" action="/empty" actionOnEmptyResult="true"/>',
        "/empty": "<Say>Tạm biệt</Say>",
    }
    stand_in, lines, status = call_through(documents, f'numbers: {{"{RESIDENT}": [machine]}}')
    assert stand_in.posted("/never") == []
    assert stand_in.posted("/empty")[0]["Digits"] == ""
    assert said(lines, "say") == ["Không nhận được", "Tạm biệt"]
    assert status == "completed"


def test_speech_gathers_get_what_the_resident_says():
    documents = {
        "/start": '<Gather input="speech" action="/heard" language="vi-VN">'
        "<Say>Bạn bị sao?</Say></Gather>",
        "/heard": "<Hangup/>",
    }
    personas = f'numbers: {{"{RESIDENT}": [{{answer: human, say: "ho và sốt"}}]}}'
    stand_in, _lines, _status = call_through(documents, personas)
    heard = stand_in.posted("/heard")[0]
    assert heard["SpeechResult"] == "ho và sốt"
    assert float(heard["Confidence"]) > 0


def test_record_redirect_dial_play_and_pause():
    documents = {
        "/start": '<Play>/audio/chao.mp3</Play><Pause length="2"/><Redirect>/next</Redirect>'
        "<Say>never heard</Say>",
        "/next": '<Record maxLength="30" action="/recorded" recordingStatusCallback="/rec"/>',
        "/recorded": '<Dial action="/dialled"><Number>+842873001111</Number></Dial>',
        "/dialled": "<Hangup/>",
        "/rec": "",
    }
    stand_in, lines, status = call_through(documents, f'numbers: {{"{RESIDENT}": [human]}}')
    recorded = stand_in.posted("/recorded")[0]
    assert recorded["RecordingUrl"].startswith("https://api.twilio.com/2010-04-01/Accounts/")
    assert int(recorded["RecordingDuration"]) > 0
    assert stand_in.posted("/rec")[0]["RecordingStatus"] == "completed"
    assert stand_in.posted("/dialled")[0]["DialCallStatus"] == "completed"
    assert said(lines, "play")[0] == f"{BASE}/audio/chao.mp3"
    assert said(lines, "dial") == ["+842873001111"]
    assert "never heard" not in said(lines, "say")
    assert status == "completed"


def test_twiml_twilio_would_refuse_ends_the_call_with_an_application_error():
    for document in ("<Speak>sai</Speak>", '<Gather numDigits="one"/>'):
        _stand_in, lines, status = call_through({"/start": document}, "default: {answer: 1}")
        assert any("application error" in line["text"] for line in lines if line["kind"] == "error")
        assert status == "completed"


def test_a_missing_answer_url_is_an_application_error():
    _stand_in, lines, _status = call_through({}, "default: {answer: 1}")
    fetch = [line for line in lines if line["kind"] == "fetch"][0]
    assert fetch["answer"] == "404"
    assert any("11200" in line["text"] for line in lines if line["kind"] == "error")


def test_the_application_can_hang_up_or_reject():
    _stand_in, lines, status = call_through(
        {"/start": "<Say>Một</Say><Hangup/><Say>Hai</Say>"}, "default: {answer: 1}"
    )
    assert said(lines, "say") == ["Một"]
    assert status == "completed"
    _stand_in, lines, status = call_through({"/start": "<Reject/>"}, "default: {answer: 1}")
    assert said(lines, "hangup") == ["rejected by the application"]


def test_an_api_redirect_moves_a_live_call_to_new_twiml():
    import asyncio

    documents = {"/start": '<Say>Xin chờ</Say><Pause length="3000"/>', "/urgent": "<Say>Khẩn</Say>"}
    stand_in = TwimlApp(documents)
    with running_simulator(personas="default: {answer: 1}", app=stand_in.app) as simulator:
        provider = adapter(simulator)
        placed = provider.place_call(
            to=RESIDENT,
            caller_id="+842873001234",
            answer_url=f"{BASE}/start",
            status_url=f"{BASE}/status",
            machine_detection=False,
            amd_url=None,
            ring_timeout_seconds=30,
        )

        async def until_paused() -> None:
            while not said(simulator.network.transcripts.get(placed.sid), "pause"):
                await asyncio.sleep(0.01)

        simulator.run(until_paused())
        provider.client.calls(placed.sid).update(url=f"{BASE}/urgent")
        simulator.wait_idle()
        lines = simulator.network.transcripts.get(placed.sid)
        status = simulator.network.calls[placed.sid].status
    assert said(lines, "say") == ["Xin chờ", "Khẩn"]
    assert status == "completed"
    assert stand_in.posted("/urgent")[0]["CallSid"] == placed.sid
