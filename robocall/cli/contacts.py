"""`robocall contacts …`."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from robocall.commandline import console, err_console, prepare_database
from robocall.kit.masking import mask_phone

app = typer.Typer(help="Contacts: list and look up.", no_args_is_help=True)


@app.command("list")
def list_command(
    unit: Annotated[
        str | None, typer.Option("--unit", help="Unit code: its contacts and those below it.")
    ] = None,
    classification: Annotated[
        str | None, typer.Option("--classification", help="F0, F1, F2, F3 or unknown.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """List contacts (phones masked in the table; in full with --json)."""
    from robocall.contacts.service import ContactQueryError, list_contacts
    from robocall.db import session_scope

    prepare_database()
    try:
        with session_scope() as session:
            page = list_contacts(db_session=session, unit_code=unit, classification=classification)
    except ContactQueryError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps(page.contacts, ensure_ascii=False))
        return
    table = Table("id", "name", "phone", "class", "exposure", "unit", "source")
    for c in page.contacts:
        source = c["source"]
        table.add_row(
            str(c["id"]),
            c["name"],
            mask_phone(c["phone"]) or "—",
            c["classification"],
            c["exposure_date"] or "",
            c["unit"] or "",
            f"{source['file']} {source['sheet']}!{source['row']}",
        )
    console.print(table)
    console.print(f"{page.total} contact(s)")
