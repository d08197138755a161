"""`robocall reports`: read and handle symptom reports and health declarations."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from robocall.commandline import console, err_console, prepare_database
from robocall.hotline.models import ReportStatus

reports_app = typer.Typer(help="Hotline and call reports.", no_args_is_help=True)


def _prepare() -> None:
    prepare_database()


@reports_app.command("list")
def list_command(
    urgent: Annotated[bool, typer.Option("--urgent", help="Only urgent reports.")] = False,
    unit: Annotated[
        str | None, typer.Option("--unit", help="Only this unit (code) and the units below it.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List reports, urgent ones first."""
    from robocall.db import session_scope
    from robocall.hotline.service import UnknownUnit, list_reports, report_as_dict

    _prepare()
    try:
        with session_scope() as session:
            rows = [
                report_as_dict(r)
                for r in list_reports(db_session=session, urgent_only=urgent, unit_code=unit)
            ]
    except UnknownUnit as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
        return
    table = Table("id", "urgent", "kind", "channel", "phone", "symptoms", "status", "created")
    for row in rows:
        table.add_row(
            str(row["id"]),
            "[red]URGENT[/red]" if row["urgent"] else "",
            row["kind"],
            row["channel"],
            row["phone"],
            ", ".join(row["symptoms"]),
            row["status"],
            row["created_at"][:16],
        )
    console.print(table)


def _set_status(report_id: int, status: ReportStatus, by: str) -> None:
    from robocall.db import session_scope
    from robocall.hotline.service import ReportNotFound, set_report_status

    _prepare()
    try:
        with session_scope() as session:
            report = set_report_status(
                db_session=session, report_id=report_id, status=status, by=by
            )
            shown = report.status.value
    except ReportNotFound as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    console.print(f"report #{report_id}: {shown}")


@reports_app.command("ack")
def ack_command(
    report_id: Annotated[int, typer.Argument(help="Report id.")],
    by: Annotated[str, typer.Option("--by", help="Who handles it.")],
) -> None:
    """Acknowledge a report (someone is handling it)."""
    _set_status(report_id, ReportStatus.acknowledged, by)


@reports_app.command("close")
def close_command(
    report_id: Annotated[int, typer.Argument(help="Report id.")],
    by: Annotated[str, typer.Option("--by", help="Who closes it.")],
) -> None:
    """Close a report (handled)."""
    _set_status(report_id, ReportStatus.closed, by)


@reports_app.command("outbox")
def outbox_command(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """SMS kept in the development outbox (when no telephony provider is plugged in)."""
    from robocall.hotline.notify import outbox_messages

    messages = outbox_messages()
    if as_json:
        print(json.dumps(messages, ensure_ascii=False))
        return
    table = Table("at", "to", "body")
    for message in messages:
        table.add_row(message["at"][:19], message["to"], message["body"])
    console.print(table)
