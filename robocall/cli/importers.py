"""`robocall import PATH...`."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from robocall.commandline import prepare_database

console = Console(stderr=True)
# Warnings listed on the terminal; the rest are in --json and the report workbook.
SHOWN_WARNINGS = 20


def _report_path(report: Path, file: Path, several: bool) -> Path:
    if not several:
        return report
    return report.with_name(f"{report.stem}-{file.stem}{report.suffix or '.xlsx'}")


def _summary(result: dict[str, Any]) -> str:
    parts = [
        f"{result['rows']} rows",
        f"{result['created']} created",
        f"{result['updated']} updated",
        f"{result['duplicates']} duplicates",
        f"{result['skipped']} skipped",
        f"{result['without_phone']} without phone",
        f"{result['legacy_converted']} old 11-digit numbers converted",
        f"{len(result['warnings'])} warnings",
    ]
    return ", ".join(parts)


def import_lists(
    paths: Annotated[list[Path], typer.Argument(help="Spreadsheets: .xlsx .xlsm .xls .ods .csv")],
    unit: Annotated[
        str | None,
        typer.Option("--unit", help="Unit code for rows whose commune is not recognised."),
    ] = None,
    classification: Annotated[
        str | None,
        typer.Option("--classification", help="F0/F1/F2/F3 for rows that give none."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Read and check; write nothing.")
    ] = False,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Write the rows with their status to this .xlsx."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per file on stdout.")
    ] = False,
) -> None:
    """Import F1/F2 spreadsheets as contacts; each file whole or not at all."""
    from robocall.db import session_scope
    from robocall.importers.reading import ImportRefused
    from robocall.importers.report import build_report
    from robocall.importers.service import import_path

    prepare_database()
    refused = 0
    show_progress = sys.stderr.isatty() and not as_json
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    for path in paths:
        try:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                disable=not show_progress,
                transient=True,
            ) as bar:
                task = bar.add_task(path.name, total=None)

                def advance(done: int, total: int, task: Any = task, bar: Any = bar) -> None:
                    bar.update(task, completed=done, total=total)

                with session_scope() as session:
                    result = import_path(
                        db_session=session,
                        path=path,
                        unit_code=unit,
                        classification=classification,
                        dry_run=dry_run,
                        imported_by=f"cli:{user}",
                        progress=advance,
                    )
                    if dry_run:
                        session.rollback()
        except ImportRefused as exc:
            refused += 1
            console.print(f"[red]refused:[/red] {exc}", highlight=False, soft_wrap=True)
            continue
        data = result.to_json()
        if report is not None and result.already_imported is None:
            target = _report_path(report, path, len(paths) > 1)
            target.write_bytes(
                build_report(
                    content=path.read_bytes(),
                    file_name=path.name,
                    row_outcomes=result.row_outcomes,
                )
            )
            data["report"] = str(target)
        if as_json:
            print(json.dumps(data, ensure_ascii=False, default=str), flush=True)
        if result.already_imported is not None:
            console.print(
                f"{path.name}: already imported (import {result.already_imported}); "
                "nothing written",
                highlight=False,
            )
            continue
        if not as_json:
            verb = "would import" if dry_run else "imported"
            console.print(f"{path.name}: {verb}: {_summary(data)}", highlight=False)
            for warning in result.warnings[:SHOWN_WARNINGS]:
                console.print(
                    f"  {warning['sheet']}!{warning['row']} [{warning['column']}] "
                    f"{warning['value']!r}: {warning['message']}",
                    highlight=False,
                    soft_wrap=True,
                )
            if len(result.warnings) > SHOWN_WARNINGS:
                console.print(
                    f"  … {len(result.warnings) - SHOWN_WARNINGS} more (see --report or --json)"
                )
    if refused:
        raise typer.Exit(2)
