"""Webhook speed: the IVR step and the call-status endpoints against a bare FastAPI endpoint.

    uv run python bench/webhooks.py [--requests 1000] [--rounds 9] [--concurrency 200]
                                    [--rate 200]

One server process (uvicorn, one worker, the real app on the embedded SQLite database) listens
on 127.0.0.1 on an ephemeral port; this process is the load generator. In the same run it
measures, for each endpoint:
- saturation: `--requests` signed POSTs with `--concurrency` in flight: requests/s, p50, p99.
  The endpoints take turns, `--rounds` times (bare, step, status, bare, step, …), so that a
  shared machine's changes of speed fall on all of them; each endpoint's share of the bare
  endpoint's throughput is taken within each round, and the median round is reported. Many
  short rounds rather than a few long ones: this machine's speed moves by a third within
  seconds, so the endpoints are compared within about a second of each other, and a few
  rounds caught at a slow moment do not move the median;
- paced: `--rate` requests/s for a few seconds: p50, p99 (the goal is p99 < 50 ms).
The bare endpoint is `POST /bench/bare`, an `async def` FastAPI route returning a constant
TwiML string without signature check or database, served by the same process and tried
before any other route (the baseline of the goal). The webhooks are the app's own (the
mounted sub-application of `robocall.web.webhooks`). Every step and status request is for a
different call, prepared beforehand (answered and waiting at its first question).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

BARE_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="/x" numDigits="1">'
    '<Say voice="Google.vi-VN-Standard-A" language="vi-VN">Xin chào</Say></Gather></Response>'
)
PUBLIC_URL = "https://robocall.bench"


def _environment(var_dir: Path, database_url: str | None = None) -> None:
    os.environ["ROBOCALL_VAR_DIR"] = str(var_dir)
    if database_url:
        os.environ["ROBOCALL_DATABASE_URL"] = database_url
    else:
        os.environ.pop("ROBOCALL_DATABASE_URL", None)
    os.environ["ROBOCALL_PUBLIC_URL"] = PUBLIC_URL
    os.environ["ROBOCALL_LOG_LEVEL"] = "WARNING"


def bench_app() -> Any:
    """The real app plus the bare endpoint to compare with.

    The bare endpoint is as cheap as FastAPI allows: `async def` (no thread), and tried
    first among the app's routes.
    """
    from fastapi import FastAPI, Response

    from robocall.web.app import create_app

    app: FastAPI = create_app()

    @app.post("/bench/bare")
    async def bare() -> Response:
        return Response(content=BARE_TWIML, media_type="application/xml")

    app.router.routes.insert(0, app.router.routes.pop())
    return app


def _serve(sock: socket.socket, var_dir: str, database_url: str | None) -> None:
    import uvicorn

    from robocall.web.app import ready_to_serve

    _environment(Path(var_dir), database_url)
    app = bench_app()
    ready_to_serve()  # as `robocall serve` does
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


def prepare_calls(count: int) -> list[str]:
    """Answer `count` outbound calls (f1_tracing) so each waits at its first question."""
    from robocall.db import session_scope
    from robocall.ivr.models import CallDirection
    from robocall.ivr.service import answer_call
    from robocall.schema import upgrade

    upgrade()
    sids = [f"CAbench{n:06d}" for n in range(count)]
    with session_scope() as session:
        for sid in sids:
            answer_call(
                db_session=session,
                form={"CallSid": sid, "To": "+84901234567", "From": "+842873001234"},
                direction=CallDirection.outbound,
                flow_name="f1_tracing",
            )
    return sids


def signed(path: str, form: dict[str, str]) -> tuple[str, dict[str, str], dict[str, str]]:
    from robocall.config import get_settings
    from robocall.telephony.signature import compute_signature

    token = get_settings().twilio_auth_token.get_secret_value()
    signature = compute_signature(token, PUBLIC_URL + path, form)
    return path, form, {"X-Twilio-Signature": signature}


def _encode(request: tuple[str, dict[str, str], dict[str, str]]) -> bytes:
    """One HTTP/1.1 keep-alive POST, ready to write (built before the clock starts)."""
    path, form, headers = request
    body = urlencode(form).encode()
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/x-www-form-urlencoded",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class _Connection:
    """A bare asyncio HTTP/1.1 client connection: the load generator must cost far less
    than the server it measures (a general-purpose client saturates first)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> _Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def send(self, payload: bytes) -> float:
        begin = time.perf_counter()
        self.writer.write(payload)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = await self.reader.readexactly(length) if length else b""
        elapsed = time.perf_counter() - begin
        if status not in (200, 204):
            raise RuntimeError(f"HTTP {status}: {body[:200]!r}")
        return elapsed

    def close(self) -> None:
        self.writer.close()


async def saturate(port: int, requests: list[Any], concurrency: int) -> dict[str, float]:
    payloads = [_encode(r) for r in reversed(requests)]
    connections = [await _Connection.open(port) for _ in range(concurrency)]
    latencies: list[float] = []

    async def worker(connection: _Connection) -> None:
        while payloads:
            latencies.append(await connection.send(payloads.pop()))

    begin = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    elapsed = time.perf_counter() - begin
    for connection in connections:
        connection.close()
    return _figures(latencies, len(requests) / elapsed)


async def paced(port: int, requests: list[Any], rate: float) -> dict[str, float]:
    payloads = [_encode(r) for r in requests]
    idle = [await _Connection.open(port) for _ in range(64)]
    opened = list(idle)
    latencies: list[float] = []

    async def one(payload: bytes) -> None:
        if idle:
            connection = idle.pop(0)  # the longest idle: none outlives keep-alive
        else:
            connection = await _Connection.open(port)
            opened.append(connection)
        latencies.append(await connection.send(payload))
        idle.append(connection)

    begin = time.perf_counter()
    tasks = []
    for number, payload in enumerate(payloads):
        delay = begin + number / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(payload)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - begin
    for connection in opened:
        connection.close()
    return _figures(latencies, len(requests) / elapsed)


def _figures(latencies: list[float], throughput: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "rps": throughput,
        "p50": statistics.median(ordered) * 1000,
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="per endpoint and round")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--paced-seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument(
        "--database-url", help="an empty database to use instead of the embedded SQLite"
    )
    options = parser.parse_args()

    var_dir = Path(tempfile.mkdtemp(prefix="robocall-bench-"))
    _environment(var_dir, options.database_url)
    paced_count = int(options.rate * options.paced_seconds)
    warm_up = 100  # calls for the first steps and statuses: the flows load on the first call
    sids = prepare_calls(options.requests * options.rounds + paced_count + warm_up)
    round_sids = [
        sids[number * options.requests : (number + 1) * options.requests]
        for number in range(options.rounds)
    ]
    paced_sids = sids[options.requests * options.rounds : -warm_up]
    warm_sids = sids[-warm_up:]

    from robocall.kit.net import listening_socket

    sock = listening_socket()
    sock.listen(2048)
    port = sock.getsockname()[1]
    servers = [
        multiprocessing.get_context("spawn").Process(
            target=_serve, args=(sock, str(var_dir), options.database_url), daemon=True
        )
        for _ in range(options.workers)
    ]
    for server in servers:
        server.start()
    _wait_until_up(f"http://127.0.0.1:{port}")

    def bare(call_sids: list[str]) -> list[Any]:  # as many requests, none for a call
        return [("/bench/bare", {"CallSid": "x"}, {})] * len(call_sids)

    def steps(call_sids: list[str]) -> list[Any]:
        return [
            signed("/webhooks/twilio/gather?step=1", {"CallSid": sid, "Digits": "1"})
            for sid in call_sids
        ]

    def statuses(call_sids: list[str]) -> list[Any]:
        return [
            signed("/webhooks/twilio/status", {"CallSid": sid, "CallStatus": "completed"})
            for sid in call_sids
        ]

    kinds = {"bare TwiML endpoint": bare, "IVR step (/gather)": steps}
    kinds["call status (/status)"] = statuses  # the calls of the round's steps
    rounds: list[dict[str, dict[str, float]]] = []
    paced_figures: dict[str, dict[str, float]] = {}
    try:
        for make in kinds.values():  # warm up
            asyncio.run(saturate(port, make(warm_sids), 50))
        for call_sids in round_sids:
            rounds.append(
                {
                    name: asyncio.run(saturate(port, make(call_sids), options.concurrency))
                    for name, make in kinds.items()
                }
            )
        for name, make in kinds.items():
            paced_figures[name] = asyncio.run(paced(port, make(paced_sids), options.rate))
    finally:
        for server in servers:
            server.terminate()
            server.join(5)
    database = "PostgreSQL" if options.database_url else "SQLite (embedded)"
    print(
        f"{options.rounds} rounds of {options.requests} requests an endpoint, "
        f"{options.concurrency} in flight; paced at "
        f"{options.rate:g}/s for {options.paced_seconds:g}s; {options.workers} uvicorn "
        f"worker(s), {database}"
    )
    print(
        "| endpoint | req/s (saturated, median round) | vs bare (median round) | p50 ms | "
        "p99 ms | p50 ms @rate | p99 ms @rate |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in kinds:
        shares = sorted(r[name]["rps"] / r["bare TwiML endpoint"]["rps"] for r in rounds)
        middle = sorted(rounds, key=lambda r: r[name]["rps"])[len(rounds) // 2][name]
        p = paced_figures[name]
        print(
            f"| {name} | {middle['rps']:.0f} | {statistics.median(shares):.0%} | "
            f"{middle['p50']:.1f} | {middle['p99']:.1f} | {p['p50']:.1f} | {p['p99']:.1f} |"
        )
    print()
    print("Each round (req/s, share of the bare endpoint's in that round):")
    for number, figures in enumerate(rounds, start=1):
        bare_rps = figures["bare TwiML endpoint"]["rps"]
        cells = ", ".join(
            f"{name.split(' (')[0]} {f['rps']:.0f} ({f['rps'] / bare_rps:.0%})"
            for name, f in figures.items()
        )
        print(f"- round {number}: {cells}")


def _wait_until_up(base: str) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.post(base + "/bench/bare", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    sys.exit("the server did not start")


if __name__ == "__main__":
    main()
