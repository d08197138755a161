"""What every `robocall` sub-command shares: its consoles, its one-line errors, and the
database check before it runs."""

from __future__ import annotations

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a one-line error on stderr and return the exit to raise."""
    err_console.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def prepare_database() -> None:
    """Migrate the embedded database, or stop with the one-line message to run the upgrade."""
    from robocall.schema import SchemaNotReady, ensure_schema

    try:
        ensure_schema()
    except SchemaNotReady as exc:
        raise fail(str(exc)) from None
