"""The `robocall` command. Each sub-command calls a service and prints its result."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.table import Table

from robocall.cli.contacts import app as contacts_app
from robocall.cli.importers import import_lists
from robocall.commandline import console, err_console, fail, prepare_database
from robocall.config import get_settings
from robocall.kit.stopping import note_stop_signal

app = typer.Typer(
    name="robocall",
    help="Telephony and SMS contact tracing for district health centres.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


# --- processes ---------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
) -> None:
    """Serve the web UI, the JSON API and the provider webhooks."""
    from robocall.processes import run_serve
    from robocall.schema import SchemaNotReady

    try:
        run_serve(host, port, workers)
    except SchemaNotReady as exc:
        raise fail(str(exc)) from None


@app.command()
def worker(
    queue: Annotated[
        list[str] | None, typer.Option("--queue", "-q", help="Queues to serve (default: all).")
    ] = None,
    health_port: Annotated[
        int | None, typer.Option(help="Answer GET /healthz on 127.0.0.1:PORT.")
    ] = None,
    burst: Annotated[bool, typer.Option(help="Stop when the queues are empty.")] = False,
) -> None:
    """Run an rq worker: places calls, sends SMS, runs imports and exports."""
    from robocall.processes import run_worker
    from robocall.schema import SchemaNotReady

    try:
        run_worker(queue, health_port, burst=burst)
    except SchemaNotReady as exc:
        raise fail(str(exc)) from None


@app.command()
def scheduler(
    health_port: Annotated[
        int | None, typer.Option(help="Answer GET /healthz on 127.0.0.1:PORT.")
    ] = None,
    eager: Annotated[
        str | None, typer.Option(help="Run this one periodic job now, once, and exit.")
    ] = None,
) -> None:
    """Run the scheduler: campaign ticks, retries, daily rounds (one active, others stand by)."""
    from robocall.processes import run_scheduler
    from robocall.schema import SchemaNotReady
    from robocall.workers.connection import get_redis
    from robocall.workers.periodic import registered
    from robocall.workers.scheduler import run_eager

    try:
        if eager:
            from robocall.processes import bootstrap

            bootstrap()  # registers every domain's periodic jobs
            if eager not in registered():
                raise fail(f"no periodic job {eager!r}; known: {', '.join(registered())}")
            run_eager(get_redis(), eager)
            console.print(f"ran {eager}")
            return
        run_scheduler(health_port)
    except SchemaNotReady as exc:
        raise fail(str(exc)) from None


@app.command()
def demo(
    once: Annotated[
        bool, typer.Option("--once", help="Start everything, check it, and exit.")
    ] = False,
    port: Annotated[int, typer.Option(help="Port for the web UI.")] = 8000,
) -> None:
    """Run everything in one process on the embedded defaults."""
    from robocall.demo import run_demo

    raise typer.Exit(run_demo(once=once, port=port, console=console))


# --- database, units, content, settings --------------------------------------------------

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Create or migrate the schema to the newest revision."""
    from robocall.schema import current_revision, upgrade

    before = current_revision()
    upgrade(revision=revision)
    after = current_revision()
    if before == after:
        console.print(f"database already at {after}")
    else:
        console.print(f"database upgraded from {before or 'empty'} to {after}")


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision of the database and the newest one."""
    from robocall.schema import current_revision, head_revision

    console.print(f"database: {current_revision() or 'empty'}   newest: {head_revision()}")


units_app = typer.Typer(help="Jurisdictions: province → district → commune.", no_args_is_help=True)
app.add_typer(units_app, name="units")


@units_app.command("import")
def units_import(
    file: Annotated[Path, typer.Argument(help="CSV with columns code, name, parent_code, level.")],
) -> None:
    """Import or update units from a CSV file (whole file or nothing)."""
    from robocall.db import session_scope
    from robocall.units.service import UnitImportError, import_units_file

    prepare_database()
    try:
        with session_scope() as session:
            result = import_units_file(db_session=session, path=file)
    except UnitImportError as exc:
        raise fail(str(exc), code=2) from None
    console.print(
        f"units: {result.created} created, {result.updated} updated, {result.unchanged} unchanged"
    )


@units_app.command("sample")
def units_sample() -> None:
    """Load the bundled sample district with a few communes."""
    from robocall.db import session_scope
    from robocall.units.service import ensure_sample_units

    prepare_database()
    with session_scope() as session:
        result = ensure_sample_units(db_session=session)
    console.print(f"sample units: {result.created} created, {result.unchanged} already there")


@units_app.command("list")
def units_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the units."""
    from robocall.db import session_scope
    from robocall.units.service import list_units

    prepare_database()
    with session_scope() as session:
        units = list_units(db_session=session)
        codes = {u.id: u.code for u in units}
        rows = [
            {
                "code": u.code,
                "name": u.name,
                "level": u.level.value,
                "parent_code": codes.get(u.parent_id) if u.parent_id else None,
            }
            for u in units
        ]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
        return
    table = Table("code", "name", "level", "parent")
    for row in rows:
        table.add_row(row["code"], row["name"], row["level"], row["parent_code"] or "")
    console.print(table)


content_app = typer.Typer(help="Operator-editable content files.", no_args_is_help=True)
app.add_typer(content_app, name="content")


@content_app.command("check")
def content_check(
    root: Annotated[
        Path | None, typer.Option(help="Content root (default: ROBOCALL_CONTENT_DIR).")
    ] = None,
) -> None:
    """Validate every content file; print `file:line: message` for each problem."""
    from robocall.content import check

    problems = check(root or get_settings().content_dir)
    for problem in problems:
        print(problem)
    if problems:
        err_console.print(f"{len(problems)} problem(s)")
        raise typer.Exit(1)
    console.print("content ok")


@app.command("config")
def show_config() -> None:
    """Print the effective settings, secrets masked."""
    table = Table("setting", "value")
    for name, value in get_settings().masked().items():
        table.add_row(f"ROBOCALL_{name.upper()}", value)
    console.print(table)


# --- the domains' command groups -------------------------------------------------------

from robocall.cli.campaigns import campaign_app, optout_app  # noqa: E402
from robocall.cli.exports import app as export_app  # noqa: E402
from robocall.cli.hotline import reports_app  # noqa: E402
from robocall.cli.ivr import flows_app  # noqa: E402
from robocall.cli.privacy import privacy_app  # noqa: E402
from robocall.cli.simulator import app as simulator_app  # noqa: E402
from robocall.cli.users import app as users_app  # noqa: E402

app.command("import")(import_lists)
app.add_typer(contacts_app, name="contacts")
app.add_typer(simulator_app, name="simulator")
app.add_typer(campaign_app, name="campaign")
app.add_typer(optout_app, name="optout")
app.add_typer(reports_app, name="reports")
app.add_typer(flows_app, name="flows")
app.add_typer(export_app, name="export")
app.add_typer(users_app, name="users")
app.add_typer(privacy_app, name="privacy")


def _exit_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    # Python's default for SIGTERM ends the process at once, skipping the exit handlers that
    # leave the embedded Redis server; long-running commands install their own handler.
    note_stop_signal(signum)
    raise SystemExit(128 + signum)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    # Python's own Ctrl-C, noted as well: a KeyboardInterrupt that lands in a garbage-collector
    # callback is printed and dropped, and a long-running command must still stop.
    note_stop_signal(signum)
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
