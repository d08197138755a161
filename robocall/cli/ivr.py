"""`robocall flows`: the IVR scripts as staff read them, and the FAQ matcher."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from robocall.commandline import console, err_console

flows_app = typer.Typer(help="IVR flows (ivr_flows/*.yaml): list, read, try the FAQ.")


@flows_app.callback(invoke_without_command=True)
def _default(context: typer.Context) -> None:
    if context.invoked_subcommand is None:
        console.print(context.get_help())


@flows_app.command("list")
def list_command(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the flows, with their problems if any."""
    from robocall.ivr.library import get_library

    library = get_library()
    rows: list[dict[str, Any]] = [
        {
            "flow": flow.name,
            "direction": flow.direction,
            "title": flow.title.vi if flow.title else "",
            "nodes": len(flow.nodes),
            "version": flow.version,
            "problems": [str(p) for p in library.flow_problems.get(flow.name, [])],
        }
        for flow in sorted(library.flows.values(), key=lambda f: f.name)
    ]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
        return
    table = Table("flow", "direction", "title", "nodes", "version", "problems")
    for row in rows:
        table.add_row(
            row["flow"],
            row["direction"],
            row["title"],
            str(row["nodes"]),
            row["version"],
            str(len(row["problems"])) if row["problems"] else "ok",
        )
    console.print(table)


@flows_app.command("show")
def show_command(
    flow_name: Annotated[str, typer.Argument(metavar="FLOW", help="The flow, e.g. f1_tracing.")],
    language: Annotated[str, typer.Option("--lang", help="vi or en.")] = "vi",
) -> None:
    """Print a flow as a script: each step, what it says and where each key leads."""
    from robocall.ivr.library import FlowNotAvailable, get_library

    try:
        flow = get_library().flow(flow_name)
    except FlowNotAvailable as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    console.print(f"[bold]{flow.name}[/bold] ({flow.direction}), starts at {flow.start}")
    for node in flow.nodes.values():
        console.print(f"\n[bold cyan]{node.name}[/bold cyan] [dim]{node.kind}[/dim]")
        if node.text is not None:
            text = " ".join(node.text.for_language(language).split())
            console.print("  " + text, markup=False, highlight=False)
        for choice in node.choices.values():
            line = f"  [{choice.key}] {choice.value} → {choice.next}"
            console.print(line, markup=False, highlight=False)
        for case in node.cases:
            console.print(f"  if {case.when} → {case.next}", markup=False, highlight=False)
        for attr in ("next", "default", "fallback", "not_understood"):
            target = getattr(node, attr)
            if target:
                console.print(f"  {attr} → {target}", markup=False, highlight=False)


@flows_app.command("ask")
def ask_command(
    question: Annotated[str, typer.Argument(help="A question as a caller would ask it.")],
    top: Annotated[int, typer.Option(help="How many candidates to show.")] = 3,
) -> None:
    """Show which common question (faq.yaml) a caller's question matches, and how surely."""
    from robocall.ivr.library import get_library

    faq = get_library().faq
    ranked = faq.rank(question)[:top]
    match = faq.match(question)
    table = Table("question", "score", "confidence")
    for candidate in ranked:
        table.add_row(
            candidate.question.id, f"{candidate.score:.2f}", f"{candidate.confidence:.2f}"
        )
    console.print(table)
    if match is None:
        console.print(
            f"below the threshold {faq.threshold}: the hotline says it did not understand"
        )
    else:
        console.print(match.question.answer("vi"))


_TRY_HELP = (
    "Play a flow to a simulated resident and print what they hear and press.\n\n"
    "The call runs in this process against the simulator and, unless --record is given, a "
    "throwaway database and Redis holding copies of the contacts it concerns: nothing is "
    "written to the real database, no job is queued, and the SMS it would send (to the "
    "resident, to the duty numbers of an urgent report) are printed instead. To call a "
    "running robocall server, use `robocall simulator call`."
)


@flows_app.command("try", help=_TRY_HELP)
def try_command(
    flow_name: Annotated[str, typer.Argument(metavar="FLOW", help="The flow, e.g. f1_tracing.")],
    to: Annotated[str, typer.Option("--to", help="The simulated resident's number.")],
    press: Annotated[str, typer.Option(help='Keys at each question in turn, e.g. "1 2 2".')] = "",
    say: Annotated[
        list[str] | None, typer.Option(help="What the resident says at speech questions.")
    ] = None,
    hangup_after: Annotated[
        int | None, typer.Option(help="Hang up after answering this many questions.")
    ] = None,
    contact: Annotated[
        int | None, typer.Option(help="Speak to this contact (name, household, day N).")
    ] = None,
    record: Annotated[
        bool,
        typer.Option(
            "--record",
            help=(
                "Write the call, answers and report to the real database and queue its jobs as "
                "a real call would. Alerts to duty numbers are still never sent: they are "
                "recorded as not sent."
            ),
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the transcript as JSON.")] = False,
) -> None:
    """Play a flow to a simulated resident (`_TRY_HELP`)."""
    from robocall.cli.tryout import TryError, try_flow_safely
    from robocall.simulator.delivery import format_transcript
    from robocall.web.app import create_app

    if record:
        from robocall.schema import SchemaNotReady, ensure_schema

        try:
            ensure_schema()
        except SchemaNotReady as exc:
            err_console.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(1) from None
    try:
        tried = try_flow_safely(
            flow=flow_name,
            phone=to,
            press=press,
            say=list(say or []),
            hangup_after=hangup_after,
            contact_id=contact,
            record=record,
            app_factory=create_app,
        )
    except TryError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        print(
            json.dumps(
                {
                    "call_sid": tried.call_sid,
                    "status": tried.status,
                    "lines": tried.lines,
                    "recorded": record,
                    "not_sent": [
                        {"to": m.to, "body": m.body, "duty": m.duty} for m in tried.withheld
                    ],
                    "jobs_not_run": tried.jobs_not_run,
                },
                ensure_ascii=False,
            )
        )
        return
    console.print(f"call {tried.call_sid}: {tried.status}", highlight=False)
    print(format_transcript(tried.lines))
    for message in tried.withheld:
        whom = f"duty number {message.to}" if message.duty else message.to
        if record:
            print(f"recorded, not sent: SMS to {whom}: {message.body}")
        else:
            print(f"would send SMS to {whom}: {message.body}")
    for job in tried.jobs_not_run:
        print(f"would queue job {job}")
    if not record:
        console.print("(a trial: nothing was written or sent; --record keeps it)", style="dim")
