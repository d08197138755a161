"""How fast robocall stores provider callbacks, and how many simulated calls it completes.

    uv run python bench/telephony_callbacks.py [--calls 200]

Baseline: the same status callbacks recorded by calling the service directly (no HTTP, no
signature). Then: through the signed webhook (in-process ASGI), and whole simulated calls
placed with the Twilio adapter, each with its TwiML fetch, key press and callbacks stored.
Runs on a fresh SQLite file and an embedded Redis under a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

_TMP = Path(tempfile.mkdtemp(prefix="robocall-bench-"))
os.environ["ROBOCALL_VAR_DIR"] = str(_TMP / "var")
os.environ["ROBOCALL_DATABASE_URL"] = f"sqlite:///{_TMP / 'bench.sqlite3'}"
os.environ.setdefault("ROBOCALL_PUBLIC_URL", "https://robocall.test")
os.environ["ROBOCALL_LOG_LEVEL"] = "WARNING"

import httpx  # noqa: E402

from robocall import models  # noqa: E402,F401
from robocall.config import get_settings  # noqa: E402
from robocall.db import session_scope  # noqa: E402
from robocall.schema import upgrade  # noqa: E402
from robocall.simulator.embedded import build_network, start_simulator  # noqa: E402
from robocall.simulator.personas import Outcome, Personas  # noqa: E402
from robocall.telephony import service  # noqa: E402
from robocall.telephony.base import CallEventKind  # noqa: E402
from robocall.telephony.signature import compute_signature  # noqa: E402
from robocall.telephony.twilio_provider import TwilioProvider, call_event_from  # noqa: E402
from robocall.web.app import create_app  # noqa: E402

STATUSES = ("initiated", "ringing", "in-progress", "completed")


def callbacks(prefix: str, calls: int) -> list[dict[str, str]]:
    forms = []
    for n in range(calls):
        for sequence, status in enumerate(STATUSES):
            forms.append(
                {
                    "CallSid": f"CA{prefix}{n:030d}",
                    "CallStatus": status,
                    "SequenceNumber": str(sequence),
                    "To": f"+8491{n:07d}",
                    "From": "+842873001234",
                    "Direction": "outbound-api",
                    "CallDuration": "30" if status == "completed" else "",
                }
            )
    return forms


def bench_service(forms: list[dict[str, str]]) -> float:
    started = time.perf_counter()
    for form in forms:
        with session_scope() as session:
            event = call_event_from(kind=CallEventKind.status, params=form)
            service.record_call_event(db_session=session, event=event)
    return len(forms) / (time.perf_counter() - started)


async def bench_webhook(forms: list[dict[str, str]]) -> float:
    settings = get_settings()
    token = settings.twilio_auth_token.get_secret_value()
    url = settings.public_url + "/webhooks/twilio/status"
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        started = time.perf_counter()
        for form in forms:
            headers = {"X-Twilio-Signature": compute_signature(token, url, form)}
            response = await client.post("/webhooks/twilio/status", data=form, headers=headers)
            assert response.status_code == 204, response.text
        return len(forms) / (time.perf_counter() - started)


def bench_simulated_calls(calls: int) -> float:
    settings = get_settings()
    network = build_network(
        app=create_app(),
        personas=Personas(mix={Outcome.human: 1.0}),
        time_factor=0.0,
        calls_per_second=1000,
        max_concurrent=50,
    )
    server = start_simulator(network)
    try:
        provider = TwilioProvider(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            api_base_url=server.url,
        )
        started = time.perf_counter()
        for n in range(calls):
            with session_scope() as session:
                service.place_call(db_session=session, to=f"+8498{n:07d}", provider=provider)
        server.wait_idle(timeout=600)
        elapsed = time.perf_counter() - started
        assert all(c.status == "completed" for c in network.calls.values())
        return calls / elapsed
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    calls = parser.parse_args().calls
    upgrade()
    baseline = bench_service(callbacks("a", calls))
    webhook = asyncio.run(bench_webhook(callbacks("b", calls)))
    simulated = bench_simulated_calls(calls)
    print(f"status callbacks stored, service directly (baseline): {baseline:8.0f} /s")
    print(f"status callbacks stored, signed webhook (ASGI):      {webhook:8.0f} /s")
    print(f"simulated calls completed end to end:                {simulated:8.1f} /s")


if __name__ == "__main__":
    main()
