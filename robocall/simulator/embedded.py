"""Running the simulator: its REST API on 127.0.0.1 in a background thread, its network
reaching robocall's webhooks in-process (ASGI) or at `app_url`."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

from robocall.config import get_settings
from robocall.kit.net import listening_socket
from robocall.simulator.api import create_simulator_app
from robocall.simulator.delivery import Transcripts, WebhookDelivery
from robocall.simulator.network import Network, NumberConfig
from robocall.simulator.personas import Personas, load_personas
from robocall.telephony.service import (
    HOTLINE_PATH,
    INBOUND_SMS_PATH,
    STATUS_PATH,
    webhook_url,
)
from robocall.workers.connection import get_redis

T = TypeVar("T")


def own_numbers(*, voice_path: str = HOTLINE_PATH) -> dict[str, NumberConfig]:
    """The account's numbers: a call or SMS to any of them reaches robocall's webhooks."""
    settings = get_settings()
    config = NumberConfig(
        voice_url=webhook_url(voice_path),
        sms_url=webhook_url(INBOUND_SMS_PATH),
        status_callback=webhook_url(STATUS_PATH),
    )
    numbers = {settings.hotline_number: config, settings.caller_id: config}
    if settings.sms_sender:
        numbers[settings.sms_sender] = config
    return numbers


def build_network(
    *,
    app: Any = None,
    app_url: str | None = None,
    personas: Personas | Path | None = None,
    time_factor: float | None = None,
    calls_per_second: float | None = None,
    max_concurrent: int | None = None,
    voice_path: str = HOTLINE_PATH,
) -> Network:
    """A simulated network for this account, from the settings unless told otherwise."""
    settings = get_settings()
    token = settings.twilio_auth_token.get_secret_value()
    if isinstance(personas, Path):
        personas = load_personas(personas)
    elif personas is None and settings.simulator_personas:
        personas = load_personas(settings.simulator_personas)
    return Network(
        account_sid=settings.twilio_account_sid,
        auth_token=token,
        delivery=WebhookDelivery(auth_token=token, app=app, app_url=app_url),
        transcripts=Transcripts(get_redis()),
        personas=personas,
        calls_per_second=settings.simulator_cps if calls_per_second is None else calls_per_second,
        max_concurrent=(
            settings.simulator_max_concurrent if max_concurrent is None else max_concurrent
        ),
        time_factor=settings.simulator_time_factor if time_factor is None else time_factor,
        numbers=own_numbers(voice_path=voice_path),
    )


@dataclass
class SimulatorServer:
    """A simulator serving on 127.0.0.1 from a background thread."""

    url: str
    network: Network
    loop: asyncio.AbstractEventLoop
    server: uvicorn.Server
    thread: threading.Thread

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        """Run a coroutine on the simulator's event loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Block until no call is queued or live and every callback has been sent."""
        self.run(self.network.idle(timeout), timeout + 5)

    def stop(self) -> None:
        if self.thread.is_alive():
            self.run(self.network.close(), 10)
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_simulator(network: Network, *, host: str = "127.0.0.1", port: int = 0) -> SimulatorServer:
    """Serve `network`'s REST API on host:port (0: any free port) in a daemon thread."""
    sock = listening_socket(host, port)
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_simulator_app(network),
        log_level="warning",
        lifespan="off",
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()

    async def serve() -> None:
        try:
            await server.serve(sockets=[sock])
        finally:
            await network.close()

    thread = threading.Thread(
        target=loop.run_until_complete, args=(serve(),), name="simulator", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10  # seconds to start serving
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    if not server.started:
        raise RuntimeError(f"the simulator could not serve on {host}:{port}")
    return SimulatorServer(
        url=f"http://{host}:{bound_port}", network=network, loop=loop, server=server, thread=thread
    )
