"""`robocall campaign …` and `robocall optout …`."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from robocall.campaigns.console import CampaignProgress, summary_lines
from robocall.commandline import console, fail, prepare_database
from robocall.kit.masking import mask_phone

campaign_app = typer.Typer(
    help="Campaigns: create, start, pause, resume, cancel, status, results.", no_args_is_help=True
)
optout_app = typer.Typer(help="Numbers that must not be called or sent SMS.", no_args_is_help=True)


def _prepare() -> None:
    from robocall.runtime import wire

    prepare_database()
    wire()


def _fail(message: str) -> typer.Exit:
    return fail(message)


@campaign_app.command("create")
def create_command(
    preset: Annotated[str, typer.Option("--preset", help="A preset in campaigns/*.yaml.")],
    name: Annotated[str | None, typer.Option("--name")] = None,
    unit: Annotated[
        str | None, typer.Option("--unit", help="Unit code (and units below it).")
    ] = None,
    classification: Annotated[str | None, typer.Option("--classification", help="F0 … F3")] = None,
    batch: Annotated[
        list[int] | None, typer.Option("--batch", help="Import batch id (repeatable).")
    ] = None,
    window: Annotated[
        str | None, typer.Option("--window", help='e.g. "08:00-11:30,13:30-20:00"')
    ] = None,
    days: Annotated[str | None, typer.Option("--days", help="e.g. mon-sun, mon-fri")] = None,
    cps: Annotated[float | None, typer.Option("--cps", help="Calls per second.")] = None,
    max_concurrent: Annotated[int | None, typer.Option("--max-concurrent")] = None,
    max_attempts: Annotated[int | None, typer.Option("--max-attempts", help="Per round.")] = None,
    retry_delay: Annotated[
        str | None, typer.Option("--retry-delay", help="One delay for every outcome: 1s, 15m …")
    ] = None,
    amd: Annotated[
        bool | None, typer.Option("--amd/--no-amd", help="Answering-machine detection.")
    ] = None,
    start_at: Annotated[str | None, typer.Option("--start-at", help="ISO time with zone.")] = None,
) -> None:
    """Create a draft campaign from a preset; prints its id."""
    from robocall.campaigns.service import CampaignError, create_campaign, parse_duration
    from robocall.db import session_scope

    _prepare()
    try:
        delay = parse_duration(retry_delay) if retry_delay else None
        starts = dt.datetime.fromisoformat(start_at) if start_at else None
        with session_scope() as db_session:
            campaign = create_campaign(
                db_session=db_session,
                preset=preset,
                name=name,
                unit_code=unit,
                classification=classification,
                batch_ids=batch,
                window=window,
                days=days,
                cps=cps,
                max_concurrent=max_concurrent,
                max_attempts=max_attempts,
                retry_delay_seconds=delay,
                amd=amd,
                start_at=starts,
                created_by="cli",
            )
            campaign_id = campaign.id
    except (CampaignError, ValueError) as exc:
        raise _fail(str(exc)) from None
    print(campaign_id)


def _transition(action: str, campaign_id: int) -> None:
    from robocall.campaigns import service
    from robocall.db import session_scope

    _prepare()
    functions = {
        "start": service.start_campaign,
        "pause": service.pause_campaign,
        "resume": service.resume_campaign,
        "cancel": service.cancel_campaign,
    }
    try:
        with session_scope() as db_session:
            campaign = functions[action](db_session=db_session, campaign_id=campaign_id)
            status = campaign.status.value
    except service.CampaignError as exc:
        raise _fail(str(exc)) from None
    console.print(f"campaign {campaign_id}: {status}")


@campaign_app.command("start")
def start_command(campaign_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Start (or schedule, if it has a later start time) a draft campaign."""
    from robocall.campaigns.models import Campaign
    from robocall.campaigns.sms import estimate_campaign_sms
    from robocall.db import session_scope

    _prepare()
    with session_scope() as db_session:
        campaign = db_session.get(Campaign, campaign_id)
        estimate = (
            estimate_campaign_sms(db_session=db_session, campaign=campaign) if campaign else None
        )
    if estimate is not None:
        console.print(
            f"SMS (at most): {estimate.messages} messages, {estimate.segments} segments, "
            f"encoding {estimate.encoding}, estimated cost {estimate.cost:,.0f}"
        )
    _transition("start", campaign_id)


@campaign_app.command("pause")
def pause_command(campaign_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Stop new calls at once (calls in progress finish)."""
    _transition("pause", campaign_id)


@campaign_app.command("resume")
def resume_command(campaign_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Continue a paused campaign."""
    _transition("resume", campaign_id)


@campaign_app.command("cancel")
def cancel_command(campaign_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """End a campaign: nothing more is dialled or sent."""
    _transition("cancel", campaign_id)


def _progress_of(campaign_id: int) -> dict[str, Any]:
    from robocall.campaigns.results import progress
    from robocall.campaigns.service import CampaignError, get_campaign
    from robocall.db import session_scope

    try:
        with session_scope() as db_session:
            campaign = get_campaign(db_session=db_session, campaign_id=campaign_id)
            return progress(db_session=db_session, campaign=campaign)
    except CampaignError as exc:
        raise _fail(str(exc)) from None


@campaign_app.command("status")
def status_command(
    campaign_id: Annotated[int, typer.Argument(metavar="ID")],
    watch: Annotated[bool, typer.Option("--watch", help="Follow live until it ends.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Progress: attempts by status, reached %, ETA."""
    _prepare()
    current = _progress_of(campaign_id)
    if as_json:
        print(json.dumps(current, ensure_ascii=False, indent=2))
        return
    if not watch:
        console.print("\n".join(summary_lines(current)), highlight=False)
        return
    bar = CampaignProgress(console)
    with bar:
        task = bar.add_task(f"campaign {campaign_id}", total=current["targets"] or 1)
        while True:
            current = _progress_of(campaign_id)
            bar.show(task, current)
            if current["status"] in ("completed", "cancelled", "draft"):
                break
            time.sleep(1.0)


@campaign_app.command("run")
def run_command(
    campaign_id: Annotated[int, typer.Argument(metavar="ID")],
    until_done: Annotated[
        bool,
        typer.Option("--until-done", help="Run the scheduler and a worker here until it ends."),
    ] = False,
    personas: Annotated[
        Path | None,
        typer.Option("--personas", help="Simulated residents (YAML) for the simulator."),
    ] = None,
) -> None:
    """Run a campaign in this process (scheduler tick + worker) until it completes."""
    from robocall.campaigns.service import CampaignError, start_campaign
    from robocall.config import get_settings
    from robocall.db import session_scope
    from robocall.processes import stop_on_signals
    from robocall.runner import run_until_done, use_simulator

    if not until_done:
        raise _fail(
            "give --until-done (otherwise `robocall scheduler` and `robocall worker` run it)"
        )
    if personas is not None and not personas.is_file():
        raise _fail(f"--personas: no file {personas}")
    if get_settings().telephony == "simulator" and not get_settings().simulator_url:
        use_simulator(personas=personas)
    _prepare()
    try:
        with session_scope() as db_session:
            from robocall.campaigns.service import get_campaign

            if get_campaign(db_session=db_session, campaign_id=campaign_id).status.value == "draft":
                start_campaign(db_session=db_session, campaign_id=campaign_id)
    except CampaignError as exc:
        raise _fail(str(exc)) from None
    stop = threading.Event()
    bar = CampaignProgress(console)
    with stop_on_signals(stop), bar:
        task = bar.add_task(f"campaign {campaign_id}", total=1)
        final = run_until_done(
            campaign_id=campaign_id, stop=stop, on_progress=lambda now: bar.show(task, now)
        )
    console.print("\n".join(summary_lines(final)), highlight=False)
    if final["status"] not in ("completed", "cancelled"):
        raise typer.Exit(130)


@campaign_app.command("results")
def results_command(
    campaign_id: Annotated[int, typer.Argument(metavar="ID")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One entry per contact: outcome, answers, attempts, SMS."""
    from robocall.campaigns.results import results
    from robocall.campaigns.service import CampaignError, get_campaign
    from robocall.db import session_scope

    _prepare()
    try:
        with session_scope() as db_session:
            campaign = get_campaign(db_session=db_session, campaign_id=campaign_id)
            rows = results(db_session=db_session, campaign=campaign)
    except CampaignError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    from robocall.kit.masking import mask_name, mask_phone

    for row in rows:
        phone = mask_phone(row["phone"] or "")
        console.print(
            f"{row['contact_id']:>6}  {mask_name(row['name']):<24} {phone:<16} "
            f"{row['outcome']:<13} attempts {len(row['attempts'])}  SMS {len(row['sms'])}",
            highlight=False,
        )


@campaign_app.command("list")
def list_command() -> None:
    """Every campaign, newest first."""
    from robocall.campaigns.service import list_campaigns
    from robocall.db import session_scope

    _prepare()
    with session_scope() as db_session:
        for campaign in list_campaigns(db_session=db_session):
            console.print(
                f"{campaign.id:>5}  {campaign.status.value:<10} "
                f"{campaign.kind.value:<14} {campaign.name}",
                highlight=False,
            )


def _unit_id(db_session: Any, code: str | None) -> int | None:
    from robocall.units.service import get_by_code

    if code is None:
        return None
    unit = get_by_code(db_session=db_session, code=code)
    if unit is None:
        raise _fail(f"--unit: no unit with code {code!r}")
    return unit.id


@optout_app.command("add")
def optout_add(
    phone: Annotated[str, typer.Argument(help="The number, as written (0912…, +84…).")],
    reason: Annotated[str, typer.Option("--reason")] = "added by staff",
    unit: Annotated[
        str | None,
        typer.Option("--unit", help="Only for contacts of this unit and below (default: all)."),
    ] = None,
) -> None:
    """Never call or text this number again (for contacts of --unit, or everywhere)."""
    from robocall.contacts.service import add_opt_out
    from robocall.db import session_scope
    from robocall.users.service import record_audit

    _prepare()
    e164 = _phone(phone)
    with session_scope() as db_session:
        opt_out = add_opt_out(
            db_session=db_session,
            phone=e164,
            reason=reason,
            unit_id=_unit_id(db_session, unit),
            created_by="cli",
        )
        record_audit(
            db_session=db_session,
            user=None,
            action="optout.add",
            object_type="opt_out",
            object_id=opt_out.id,
            unit_id=opt_out.unit_id,
            detail={"reason": reason, "via": "cli"},
        )
    console.print(f"{mask_phone(e164)}: opted out" + (f" in unit {unit}" if unit else ""))


@optout_app.command("remove")
def optout_remove(
    phone: Annotated[str, typer.Argument()],
    reason: Annotated[
        str, typer.Option("--reason", help="Why, for the audit log (needed with --resident).")
    ] = "",
    unit: Annotated[
        str | None, typer.Option("--unit", help="The unit whose opt-out to lift.")
    ] = None,
    resident: Annotated[
        bool,
        typer.Option("--resident", help="Lift the resident's own opt-out (key 9, SMS)."),
    ] = False,
) -> None:
    """Let this number be called and texted again: staff's opt-out for --unit (or the
    centre-wide one), or with --resident the one the resident asked for."""
    from sqlalchemy import select

    from robocall.contacts.models import OptOut
    from robocall.contacts.service import remove_opt_out
    from robocall.db import session_scope
    from robocall.users.service import record_audit

    _prepare()
    e164 = _phone(phone)
    if resident and not reason.strip():
        raise _fail("--reason: the resident asked for this opt-out; say why it is lifted")
    with session_scope() as db_session:
        unit_id = _unit_id(db_session, unit)
        found = db_session.scalar(
            select(OptOut).where(
                OptOut.phone == e164,
                OptOut.by_resident.is_(resident),
                OptOut.unit_id.is_(None) if unit_id is None else OptOut.unit_id == unit_id,
            )
        )
        if found is None:
            raise _fail(f"{mask_phone(e164)} is not on the opt-out list")
        record_audit(
            db_session=db_session,
            user=None,
            action="optout.remove",
            object_type="opt_out",
            object_id=found.id,
            unit_id=found.unit_id,
            detail={"reason": reason.strip(), "resident": resident, "via": "cli"},
        )
        remove_opt_out(db_session=db_session, opt_out=found)
    console.print(f"{mask_phone(e164)}: opt-out lifted")


@optout_app.command("list")
def optout_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The opt-out list, newest first."""
    from sqlalchemy import select

    from robocall.contacts.service import list_opt_outs
    from robocall.db import session_scope
    from robocall.units.models import Unit

    _prepare()
    with session_scope() as db_session:
        codes = {uid: code for uid, code in db_session.execute(select(Unit.id, Unit.code))}
        rows: list[dict[str, Any]] = [
            {
                "phone": v.opt_out.phone,
                "unit": codes.get(v.opt_out.unit_id) if v.opt_out.unit_id else None,
                "by_resident": v.opt_out.by_resident,
                "reason": v.opt_out.reason,
                "created_at": v.opt_out.created_at.isoformat(),
            }
            for v in list_opt_outs(db_session=db_session)
        ]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        where = "resident" if row["by_resident"] else (row["unit"] or "everywhere")
        console.print(
            f"{row['phone']:<16} {row['created_at'][:19]}  {where:<10} {row['reason']}",
            highlight=False,
        )


def _phone(text: str) -> str:
    from robocall.contacts.phones import normalize_phone

    e164 = normalize_phone(text)
    if e164 is None:
        raise _fail(f"not a phone number: {text!r}")
    return e164
