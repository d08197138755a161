"""What the adapter sends and what the simulator answers, checked against Twilio's OpenAPI
description: parameter names, required fields, enums, response fields and their types."""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from robocall.config import get_settings, reset_settings_cache
from robocall.telephony import service
from tests.simulator.harness import adapter, running_simulator
from tests.telephony import openapi

SPEC = openapi.load()
# A Twilio-shaped account: the description's patterns require AC + 32 hex digits.
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
RESIDENT = "+84912345678"


@pytest.fixture
def twilio_shaped_account(monkeypatch):
    monkeypatch.setenv("ROBOCALL_TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("ROBOCALL_TWILIO_MESSAGING_SERVICE_SID", "MG" + "ab" * 16)
    reset_settings_cache()
    yield
    monkeypatch.undo()
    reset_settings_cache()


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        resolved: dict[str, Any] = SPEC["schemas"][ref.rsplit("/", 1)[-1]]
        return resolved
    return schema


def form_problems(operation: str, form: dict[str, Any]) -> list[str]:
    """Every way `form` breaks the operation's request body schema."""
    body = SPEC["operations"][operation]["requestBody"]["content"]
    schema = body["application/x-www-form-urlencoded"]["schema"]
    properties, problems = schema["properties"], []
    for name in schema.get("required", []):
        if name not in form:
            problems.append(f"{operation}: required {name} missing")
    for name, value in form.items():
        if name not in properties:
            problems.append(f"{operation}: unknown parameter {name}")
            continue
        prop = resolve(properties[name])
        values = value if isinstance(value, list) else [value]
        if prop.get("type") == "array":
            if not isinstance(value, list):
                problems.append(f"{operation}: {name} must be sent once per item")
            prop = resolve(prop["items"])
        for item in values:
            problems.extend(f"{operation}: {p}" for p in value_problems(name, prop, item))
    return problems


def value_problems(name: str, prop: dict[str, Any], value: str) -> list[str]:
    if "enum" in prop and value not in prop["enum"]:
        return [f"{name}={value!r} not in {prop['enum']}"]
    kind = prop.get("type")
    if kind == "integer" and not re.fullmatch(r"-?\d+", value):
        return [f"{name}={value!r} is not an integer"]
    if kind == "boolean" and value not in ("true", "false"):
        return [f"{name}={value!r} is not a boolean"]
    if "pattern" in prop and not re.search(prop["pattern"], value):
        return [f"{name}={value!r} does not match {prop['pattern']}"]
    if prop.get("format") == "uri" and not value.startswith(("http://", "https://")):
        return [f"{name}={value!r} is not an absolute URL"]
    return []


def json_problems(schema_name: str, document: dict[str, Any]) -> list[str]:
    """Every way a simulator answer differs from the resource schema."""
    properties = SPEC["schemas"][schema_name]["properties"]
    problems = [f"{schema_name}: missing {name}" for name in properties if name not in document]
    for name, value in document.items():
        if name not in properties:
            problems.append(f"{schema_name}: unknown field {name}")
            continue
        prop = resolve(properties[name])
        if value is None:
            if not properties[name].get("nullable") and "$ref" not in properties[name]:
                problems.append(f"{schema_name}: {name} is null")
            continue
        expected = {"string": str, "integer": int, "object": dict}.get(prop.get("type", ""), object)
        if not isinstance(value, expected):
            problems.append(f"{schema_name}: {name}={value!r} is not {prop.get('type')}")
            continue
        if prop.get("format") == "date-time-rfc-2822":
            try:
                parsedate_to_datetime(value)
            except (TypeError, ValueError):
                problems.append(f"{schema_name}: {name}={value!r} is not an RFC 2822 date")
        elif isinstance(value, str):
            problems.extend(f"{schema_name}: {p}" for p in value_problems(name, prop, value))
    return problems


def sent(simulator, operation: str) -> list[dict[str, Any]]:
    return [form for name, form in simulator.network.requests if name == operation]


def test_the_adapter_sends_what_twilio_documents(session, twilio_shaped_account):
    with running_simulator() as simulator:
        provider = adapter(simulator, messaging_service_sid=None)
        call = service.place_call(db_session=session, to=RESIDENT, provider=provider)
        plain = service.place_call(
            db_session=session, to="+84987654321", provider=provider, machine_detection=False
        )
        session.commit()
        service.hang_up(call_sid=plain.sid, provider=provider)
        service.send_sms(db_session=session, to=RESIDENT, body="Xin chào", provider=provider)
        via_service = adapter(simulator, messaging_service_sid="MG" + "ab" * 16)
        service.send_sms(db_session=session, to=RESIDENT, body="Xin chào", provider=via_service)
        session.commit()
        simulator.wait_idle()
        creates, updates = sent(simulator, "CreateCall"), sent(simulator, "UpdateCall")
        messages = sent(simulator, "CreateMessage")
    assert call.sid != plain.sid
    assert len(creates) == 2 and len(updates) == 1 and len(messages) == 2
    problems = [p for form in creates for p in form_problems("CreateCall", form)]
    problems += form_problems("UpdateCall", updates[0])
    problems += [p for form in messages for p in form_problems("CreateMessage", form)]
    assert problems == []
    # The progress events asked for are documented event names: answered and completed.
    events = SPEC["schemas"]["call_enum_event"]["enum"]
    assert creates[0]["StatusCallbackEvent"] == ["answered", "completed"]
    assert set(creates[0]["StatusCallbackEvent"]) <= set(events)
    assert creates[0]["MachineDetection"] in ("Enable", "DetectMessageEnd")
    assert creates[0]["AsyncAmd"] == "true"
    assert "MachineDetection" not in creates[1]
    assert updates[0]["Status"] in SPEC["schemas"]["call_enum_update_status"]["enum"]
    assert "From" in messages[0] and "MessagingServiceSid" not in messages[0]
    assert "MessagingServiceSid" in messages[1] and "From" not in messages[1]


def test_the_simulator_answers_in_twilios_shapes(twilio_shaped_account):
    settings = get_settings()
    auth = (ACCOUNT_SID, settings.twilio_auth_token.get_secret_value())
    # At the pace of life, so that the call is still ringing when it is canceled.
    with running_simulator(time_factor=1.0) as simulator:
        base = f"{simulator.url}/2010-04-01/Accounts/{ACCOUNT_SID}"
        with httpx.Client(auth=auth) as http:
            created = http.post(
                f"{base}/Calls.json",
                data={
                    "To": RESIDENT,
                    "From": settings.caller_id,
                    "Url": "https://robocall.test/webhooks/twilio/voice",
                    "StatusCallback": "https://robocall.test/webhooks/twilio/status",
                    "StatusCallbackEvent": ["initiated", "completed"],
                    "MachineDetection": "Enable",
                },
            )
            sid = created.json()["sid"]
            fetched = http.get(f"{base}/Calls/{sid}.json")
            updated = http.post(f"{base}/Calls/{sid}.json", data={"Status": "canceled"})
            listed = http.get(f"{base}/Calls.json", params={"To": RESIDENT, "PageSize": 1})
            message = http.post(
                f"{base}/Messages.json",
                data={"To": RESIDENT, "From": settings.caller_id, "Body": "Xin chào"},
            )
            message_fetched = http.get(f"{base}/Messages/{message.json()['sid']}.json")
            missing = http.get(f"{base}/Calls/CA{'0' * 32}.json")
            refused = http.post(f"{base}/Calls.json", data={"To": RESIDENT})
            unauthorised = httpx.get(f"{base}/Calls/{sid}.json", auth=(ACCOUNT_SID, "wrong"))
        simulator.wait_idle()
    assert [created.status_code, fetched.status_code, updated.status_code] == [201, 200, 200]
    assert [message.status_code, message_fetched.status_code] == [201, 200]
    problems = []
    for answer in (created, fetched, updated):
        problems += json_problems("api.v2010.account.call", answer.json())
    for answer in (message, message_fetched):
        problems += json_problems("api.v2010.account.message", answer.json())
    page = listed.json()
    list_schema = SPEC["operations"]["ListCall"]["responses"]["200"]["content"]
    page_properties = list_schema["application/json"]["schema"]["properties"]
    assert set(page) == set(page_properties)
    problems += [p for c in page["calls"] for p in json_problems("api.v2010.account.call", c)]
    assert problems == []
    assert updated.json()["status"] == "canceled"
    assert len(page["calls"]) == 1 and page["page_size"] == 1
    for answer, status, code in (
        (missing, 404, 20404),
        (refused, 400, 21213),
        (unauthorised, 401, 20003),
    ):
        assert answer.status_code == status
        assert set(answer.json()) == {"code", "message", "more_info", "status"}
        assert answer.json()["code"] == code and answer.json()["status"] == status
