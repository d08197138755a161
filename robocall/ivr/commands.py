"""`robocall flows`: the IVR scripts as staff read them, and the FAQ matcher."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

flows_app = typer.Typer(help="IVR flows (ivr_flows/*.yaml): list, read, try the FAQ.")
console = Console()
err_console = Console(stderr=True)


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


@flows_app.command("try")
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
    app_url: Annotated[
        str | None, typer.Option(help="Reach a running robocall server instead of in-process.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the transcript as JSON.")] = False,
) -> None:
    """Play a flow to a simulated resident and print what they hear and press."""
    from robocall.ivr.tryout import TryError, try_flow
    from robocall.schema import SchemaNotReady, ensure_schema
    from robocall.simulator.delivery import format_transcript

    app = None
    if not app_url:
        from robocall.web.app import create_app

        try:
            ensure_schema()
        except SchemaNotReady as exc:
            err_console.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(1) from None
        app = create_app()
    try:
        tried = try_flow(
            flow=flow_name,
            phone=to,
            press=press,
            say=list(say or []),
            hangup_after=hangup_after,
            contact_id=contact,
            app=app,
            app_url=app_url,
        )
    except TryError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        print(
            json.dumps(
                {"call_sid": tried.call_sid, "status": tried.status, "lines": tried.lines},
                ensure_ascii=False,
            )
        )
        return
    console.print(f"call {tried.call_sid}: {tried.status}", highlight=False)
    print(format_transcript(tried.lines))
