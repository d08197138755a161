"""The simulator's REST API: the subset of Twilio's 2010-04-01 API robocall uses, plus a few
simulator-only endpoints (transcripts, faults) under /simulator/."""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from robocall.simulator.listing import page
from robocall.simulator.network import Network
from robocall.simulator.resources import API_VERSION, SimulatorError

# Form fields the SDK sends once per value.
_LIST_FIELDS = {"StatusCallbackEvent", "RecordingStatusCallbackEvent", "MediaUrl"}


def create_simulator_app(network: Network) -> FastAPI:
    """The simulator as a web app: Twilio's REST shapes, basic auth, Twilio's error bodies."""
    app = FastAPI(title="robocall simulator", docs_url=None, redoc_url=None)
    app.state.network = network
    accounts = f"/{API_VERSION}/Accounts/{{account_sid}}"

    @app.exception_handler(SimulatorError)
    async def twilio_error(_request: Request, exc: SimulatorError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    def authorize(request: Request, account_sid: str) -> None:
        header = request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user = password = ""
        valid = (
            scheme.lower() == "basic"
            and secrets.compare_digest(user, network.account_sid)
            and secrets.compare_digest(password, network.auth_token)
        )
        if not valid:
            raise SimulatorError(401, 20003, "Authenticate")
        if account_sid != network.account_sid:
            raise SimulatorError(
                404, 20404, f"The requested resource /Accounts/{account_sid} was not found"
            )

    async def form_of(request: Request) -> dict[str, Any]:
        form = await request.form()
        fields: dict[str, Any] = {}
        for key in form:
            values = [str(v) for v in form.getlist(key)]
            fields[key] = values if key in _LIST_FIELDS else values[-1]
        return fields

    @app.post(f"{accounts}/Calls.json", status_code=201)
    async def create_call(account_sid: str, request: Request) -> JSONResponse:
        authorize(request, account_sid)
        call = await network.create_call(await form_of(request))
        return JSONResponse(call.to_json(), status_code=201)

    @app.get(f"{accounts}/Calls.json")
    async def list_calls(account_sid: str, request: Request) -> dict[str, Any]:
        authorize(request, account_sid)
        query = dict(request.query_params)
        calls = network.list_calls(query)
        return page(
            key="calls",
            records=[c.to_json() for c in calls],
            path=request.url.path,
            query=query,
        )

    @app.get(f"{accounts}/Calls/{{sid}}.json")
    async def fetch_call(account_sid: str, sid: str, request: Request) -> dict[str, Any]:
        authorize(request, account_sid)
        return network.fetch_call(sid).to_json()

    @app.post(f"{accounts}/Calls/{{sid}}.json")
    async def update_call(account_sid: str, sid: str, request: Request) -> dict[str, Any]:
        authorize(request, account_sid)
        call = await network.update_call(sid, await form_of(request))
        return call.to_json()

    @app.post(f"{accounts}/Messages.json", status_code=201)
    async def create_message(account_sid: str, request: Request) -> JSONResponse:
        authorize(request, account_sid)
        message = await network.create_message(await form_of(request))
        return JSONResponse(message.to_json(), status_code=201)

    @app.get(f"{accounts}/Messages.json")
    async def list_messages(account_sid: str, request: Request) -> dict[str, Any]:
        authorize(request, account_sid)
        query = dict(request.query_params)
        messages = network.list_messages(query)
        return page(
            key="messages",
            records=[m.to_json() for m in messages],
            path=request.url.path,
            query=query,
        )

    @app.get(f"{accounts}/Messages/{{sid}}.json")
    async def fetch_message(account_sid: str, sid: str, request: Request) -> dict[str, Any]:
        authorize(request, account_sid)
        return network.fetch_message(sid).to_json()

    # --- simulator only ---------------------------------------------------------------------

    @app.get("/simulator/calls/{sid}/transcript")
    async def transcript(sid: str, request: Request) -> dict[str, Any]:
        authorize(request, network.account_sid)
        lines = network.transcripts.get(sid)
        if not lines:
            raise SimulatorError(404, 20404, f"no transcript for call {sid}")
        return {"call_sid": sid, "lines": lines}

    @app.get("/simulator/stats")
    async def stats(request: Request) -> dict[str, Any]:
        """Calls created (epoch seconds of the first and last), the most created in any one
        second, the most live at once: what a provider's rate limits count."""
        authorize(request, network.account_sid)
        return network.creation_stats()

    @app.post("/simulator/faults")
    async def set_faults(request: Request) -> dict[str, Any]:
        authorize(request, network.account_sid)
        try:
            network.faults.update(await request.json())
        except (ValueError, TypeError, AttributeError) as exc:
            raise SimulatorError(400, 20001, f"faults: {exc}") from None
        return dict(vars(network.faults))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "process": "simulator"}

    return app
