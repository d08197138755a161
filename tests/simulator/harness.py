"""A simulator running on 127.0.0.1 for a test, reaching the app in-process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from robocall.config import get_settings
from robocall.kit.net import listening_socket
from robocall.simulator.embedded import SimulatorServer, build_network, start_simulator
from robocall.simulator.personas import Personas, parse_personas
from robocall.telephony.twilio_provider import TwilioProvider
from robocall.web.app import create_app

# Ring and talk a thousand times faster than life.
FAST = 0.001


@contextmanager
def running_simulator(
    *,
    personas: str | Personas | None = None,
    time_factor: float = FAST,
    calls_per_second: float = 1000.0,
    max_concurrent: int = 50,
    app: Any = None,
    app_url: str | None = None,
) -> Iterator[SimulatorServer]:
    if isinstance(personas, str):
        personas = parse_personas(personas)
    network = build_network(
        app=app if app is not None or app_url else create_app(),
        app_url=app_url,
        personas=personas,
        time_factor=time_factor,
        calls_per_second=calls_per_second,
        max_concurrent=max_concurrent,
    )
    server = start_simulator(network)
    try:
        yield server
    finally:
        server.stop()


def adapter(server: SimulatorServer, **options: Any) -> TwilioProvider:
    """The real Twilio adapter (real SDK) pointed at the simulator."""
    settings = get_settings()
    defaults: dict[str, Any] = {
        "request_timeout_seconds": 5.0,
        "create_tries": 3,
        "retry_backoff_seconds": 0.01,
    }
    return TwilioProvider(
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_token.get_secret_value(),
        api_base_url=server.url,
        **{**defaults, **options},
    )


@contextmanager
def serving_app() -> Iterator[str]:
    """robocall's web app served by uvicorn on 127.0.0.1 (any free port); yields its URL."""
    import threading
    import time

    import uvicorn

    sock = listening_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
