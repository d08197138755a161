"""`robocall export`: workbooks and CSV files for officials."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from robocall.commandline import console, err_console

app = typer.Typer(help="Exports for officials (xlsx, or CSV with a BOM).", no_args_is_help=True)

OutOption = Annotated[Path, typer.Option("--out", help="FILE.xlsx or FILE.csv")]
UnitOption = Annotated[
    str | None, typer.Option("--unit", help="Unit code (and the units below it).")
]


def _export(
    name: str,
    out: Path,
    unit: str | None,
    day: dt.date | None = None,
    campaign_id: int | None = None,
) -> None:
    from robocall.db import session_scope
    from robocall.exports.service import ExportError, ExportRequest, write_export_file
    from robocall.schema import SchemaNotReady, ensure_schema
    from robocall.users.service import Scope, record_audit

    try:
        ensure_schema()
        with session_scope() as session:
            request = ExportRequest(
                scope=Scope(None), unit_code=unit, day=day, campaign_id=campaign_id
            )
            write_export_file(db_session=session, name=name, path=out, request=request)
            record_audit(
                db_session=session,
                user=None,
                action="export.download",
                object_type="export",
                object_id=name,
                detail={"file": out.name, "unit": unit, "campaign": campaign_id, "via": "cli"},
            )
    except (ExportError, SchemaNotReady) as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    console.print(f"wrote {out}")


@app.command("contacts")
def export_contacts(out: OutOption, unit: UnitOption = None) -> None:
    """Everyone on the lists, by commune, hamlet and name."""
    _export("contacts", out, unit)


@app.command("reports")
def export_reports(out: OutOption, unit: UnitOption = None) -> None:
    """Hotline symptom reports and declarations, urgent first."""
    _export("reports", out, unit)


@app.command("situation")
def export_situation(
    out: OutOption,
    unit: UnitOption = None,
    date: Annotated[
        str | None, typer.Option("--date", help="YYYY-MM-DD (default: today, local time).")
    ] = None,
) -> None:
    """The daily situation report per commune (xlsx)."""
    day = None
    if date:
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            err_console.print(f"[red]error:[/red] --date: {date!r} is not YYYY-MM-DD")
            raise typer.Exit(2) from None
    _export("situation", out, unit, day)


@app.command("campaign")
def export_campaign(
    campaign_id: Annotated[int, typer.Argument(metavar="ID")],
    out: OutOption,
    unit: UnitOption = None,
) -> None:
    """A campaign's workbook (summary, calls, whom to visit, symptoms, SMS) or, as CSV, one
    row per person with their result."""
    _export("campaign", out, unit, campaign_id=campaign_id)
