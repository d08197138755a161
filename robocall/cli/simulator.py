"""`robocall simulator`: serve the simulated phone network, or call/text robocall through it."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Annotated

import typer

from robocall.commandline import console, fail
from robocall.config import get_settings

app = typer.Typer(
    help="The Twilio-compatible simulated phone network.",
    invoke_without_command=True,
    no_args_is_help=False,
)

PersonasOption = Annotated[
    Path | None, typer.Option("--personas", help="Residents' behaviours (YAML).")
]
AppUrlOption = Annotated[
    str | None,
    typer.Option(
        "--app-url",
        help="Deliver webhooks to a running robocall at this URL (default: the app in-process).",
    ),
]
TimeFactorOption = Annotated[
    float | None,
    typer.Option(help="Multiply ring/talk/pause times (0.01: a hundred times faster)."),
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    return fail(message, code)


def _in_process_app(app_url: str | None) -> object | None:
    """The robocall app to reach in-process, unless webhooks go to `app_url`."""
    if app_url:
        return None
    from robocall.schema import SchemaNotReady, ensure_schema
    from robocall.web.app import create_app

    try:
        ensure_schema()
    except SchemaNotReady as exc:
        raise _fail(str(exc)) from None
    return create_app()


def _personas(path: Path | None) -> object | None:
    from robocall.simulator.personas import PersonaFileError, load_personas

    if path is None:
        return None
    try:
        return load_personas(path)
    except PersonaFileError as exc:
        raise _fail(str(exc), code=2) from None
    except OSError as exc:
        raise _fail(f"{path}: {exc.strerror}", code=2) from None


@app.callback()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8765,
    app_url: AppUrlOption = None,
    personas: PersonasOption = None,
    time_factor: TimeFactorOption = None,
    cps: Annotated[float | None, typer.Option(help="Calls started per second.")] = None,
    max_concurrent: Annotated[int | None, typer.Option(help="Calls live at once.")] = None,
) -> None:
    """Serve the simulator's REST API (Twilio's 2010-04-01 subset) until Ctrl-C."""
    if ctx.invoked_subcommand is not None:
        return
    from robocall.kit.heap import settle_heap
    from robocall.kit.masking import configure_logging
    from robocall.simulator.embedded import build_network, start_simulator
    from robocall.simulator.personas import Personas

    settings = get_settings()
    configure_logging(settings.log_level)
    loaded = _personas(personas)
    network = build_network(
        app=_in_process_app(app_url),
        app_url=app_url,
        personas=loaded if isinstance(loaded, Personas) else None,
        time_factor=time_factor,
        calls_per_second=cps,
        max_concurrent=max_concurrent,
    )
    settle_heap(collect_less_often=True)  # a long-running server: see robocall.kit.heap
    try:
        server = start_simulator(network, host=host, port=port)
    except OSError as exc:
        raise _fail(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    target = app_url or "robocall in-process"
    console.print(f"simulator listening on {server.url}  (webhooks to {target})", highlight=False)
    console.print(f"point robocall at it: ROBOCALL_SIMULATOR_URL={server.url}", highlight=False)
    stop = threading.Event()
    try:
        while server.thread.is_alive() and not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@app.command("call")
def call(
    from_: Annotated[str, typer.Option("--from", help="The resident's number (E.164).")],
    to: Annotated[
        str | None, typer.Option("--to", help="Number called (default: ROBOCALL_HOTLINE_NUMBER).")
    ] = None,
    press: Annotated[str, typer.Option(help='Keys at each question in turn, e.g. "1 1 2".')] = "",
    say: Annotated[
        list[str] | None, typer.Option(help="What the caller says at speech questions.")
    ] = None,
    hangup_after: Annotated[
        int | None, typer.Option(help="Hang up after answering this many questions.")
    ] = None,
    app_url: AppUrlOption = None,
    voice_path: Annotated[
        str | None, typer.Option(help="Webhook path the number's calls go to (default: hotline).")
    ] = None,
    time_factor: TimeFactorOption = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the transcript as JSON.")] = False,
) -> None:
    """Call robocall (the hotline) as a resident and print the call's transcript."""
    from robocall.simulator.delivery import format_transcript
    from robocall.simulator.embedded import build_network
    from robocall.simulator.personas import Behaviour, Outcome, parse_personas
    from robocall.simulator.resources import SimulatorError
    from robocall.telephony.service import HOTLINE_PATH

    settings = get_settings()
    number = to or settings.hotline_number
    try:
        keys = parse_personas(json.dumps({"numbers": {from_: [{"press": press or None}]}}))
    except ValueError as exc:
        raise _fail(f"--from/--press: {exc}", code=2) from None
    # The number as the network presents it: E.164, whatever form was typed.
    caller, behaviours = next(iter(keys.numbers.items()))
    resident = behaviours[0]
    behaviour = Behaviour(
        Outcome.human,
        press=resident.press,
        say=tuple(say or ()),
        hangup_after=hangup_after,
        talk_seconds=resident.talk_seconds,
    )
    network = build_network(
        app=_in_process_app(app_url),
        app_url=app_url,
        time_factor=time_factor,
        voice_path=voice_path or HOTLINE_PATH,
    )

    async def run() -> tuple[str, str]:
        try:
            placed = await network.inbound_call(from_=caller, to=number, behaviour=behaviour)
            await asyncio.wait_for(placed.done.wait(), timeout=600)
            await network.idle()
            return placed.sid, placed.status
        finally:
            await network.close()

    try:
        sid, status = asyncio.run(run())
    except SimulatorError as exc:
        raise _fail(exc.message) from None
    lines = network.transcripts.get(sid)
    if as_json:
        print(json.dumps({"call_sid": sid, "status": status, "lines": lines}, ensure_ascii=False))
        return
    console.print(f"call {sid}: {status}", highlight=False)
    print(format_transcript(lines))
    if status != "completed":
        raise typer.Exit(1)


@app.command("sms")
def sms(
    from_: Annotated[str, typer.Option("--from", help="The resident's number (E.164).")],
    body: Annotated[str, typer.Option(help="The text of the SMS.")],
    to: Annotated[
        str | None, typer.Option("--to", help="Number texted (default: ROBOCALL_HOTLINE_NUMBER).")
    ] = None,
    app_url: AppUrlOption = None,
) -> None:
    """Text robocall as a resident; print robocall's answer."""
    from robocall.simulator.embedded import build_network
    from robocall.simulator.resources import SimulatorError

    number = to or get_settings().hotline_number
    network = build_network(app=_in_process_app(app_url), app_url=app_url, time_factor=0.0)

    async def run() -> dict[str, object]:
        try:
            return await network.inbound_sms(from_=from_, to=number, body=body)
        finally:
            await network.close()

    try:
        result = asyncio.run(run())
    except SimulatorError as exc:
        raise _fail(exc.message) from None
    console.print(f"SMS {result['sid']} delivered to robocall: HTTP {result['answer']}")
    replies = result["replies"]
    assert isinstance(replies, list)
    for reply in replies:
        console.print(f"reply: {reply}", highlight=False)
    if result["answer"] not in ("200", "204"):
        raise typer.Exit(1)


@app.command("transcript")
def transcript(
    call_sid: Annotated[str, typer.Argument(help="The simulated call's sid (CA...).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print what happened on a simulated call: said, played, pressed, each callback."""
    from robocall.simulator.delivery import Transcripts, format_transcript
    from robocall.workers.connection import get_redis

    lines = Transcripts(get_redis()).get(call_sid)
    if not lines:
        raise _fail(f"no transcript for call {call_sid} (kept 7 days)")
    if as_json:
        print(json.dumps({"call_sid": call_sid, "lines": lines}, ensure_ascii=False))
        return
    print(format_transcript(lines))
