"""Campaigns: the list, creating one from a preset (with the SMS cost before it starts),
start/pause/resume/cancel, and a campaign's progress, live, without reloading."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.campaigns import service
from robocall.campaigns.access import campaign_runnable, campaign_visible, visible_campaigns
from robocall.campaigns.definitions import list_presets, load_preset
from robocall.campaigns.models import Campaign, CampaignStatus
from robocall.campaigns.results import progress
from robocall.campaigns.sms import estimate_campaign_sms
from robocall.config import get_settings
from robocall.http.auth import csrf_protect
from robocall.http.deps import db_session
from robocall.importers.models import ImportBatch
from robocall.units.service import get_by_code
from robocall.users.scoping import within
from robocall.users.service import record_audit
from robocall.web.pages.common import Viewer, render, units_in_scope, viewer

router = APIRouter(include_in_schema=False)
CLASSIFICATIONS = ("F0", "F1", "F2", "F3", "returnee")
# Which buttons a campaign in each status offers.
ACTIONS = {
    CampaignStatus.draft: ("start", "cancel"),
    CampaignStatus.scheduled: ("pause", "cancel"),
    CampaignStatus.running: ("pause", "cancel"),
    CampaignStatus.paused: ("resume", "cancel"),
    CampaignStatus.completed: (),
    CampaignStatus.cancelled: (),
}
TRANSITIONS = {
    "start": service.start_campaign,
    "pause": service.pause_campaign,
    "resume": service.resume_campaign,
    "cancel": service.cancel_campaign,
}
BATCHES_SHOWN = 50


def _campaign_for(session: Session, who: Viewer, campaign_id: int) -> Campaign:
    """The campaign if the viewer may see it; 404 otherwise, as if it did not exist."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or not campaign_visible(
        db_session=session, campaign=campaign, scope=who.scope
    ):
        raise HTTPException(404, detail=f"no campaign {campaign_id}")
    return campaign


@router.get("/campaigns", response_class=HTMLResponse)
def campaigns_page(
    request: Request,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
) -> Response:
    campaigns = visible_campaigns(db_session=session, scope=who.scope)
    rows = [(c, progress(db_session=session, campaign=c)) for c in campaigns]
    return render(request, who, "campaigns.html", {"rows": rows})


def _form_context(session: Session, who: Viewer, values: dict[str, Any]) -> dict[str, Any]:
    presets = []
    for name in list_presets():
        preset = load_preset(name)
        presets.append({"name": name, "description": preset.description, "kind": preset.kind})
    batches = session.scalars(
        within(select(ImportBatch), ImportBatch.unit_id, who.scope)
        .order_by(ImportBatch.id.desc())
        .limit(BATCHES_SHOWN)
    )
    return {
        "presets": presets,
        "units": units_in_scope(db_session=session, scope=who.scope),
        "classifications": CLASSIFICATIONS,
        "batches": list(batches),
        "values": values,
        "default_window": service.DEFAULT_WINDOW,
        "default_days": service.DEFAULT_DAYS,
    }


@router.get("/campaigns/new", response_class=HTMLResponse)
def new_campaign_page(
    request: Request,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
) -> Response:
    who.require_change()
    return render(request, who, "campaign_new.html", _form_context(session, who, {}))


def _number(label: str, text: str | None, kind: type[float] | type[int]) -> Any:
    if text is None or not text.strip():
        return None
    try:
        return kind(text.strip())
    except ValueError:
        raise service.CampaignError(f"{label}: {text!r} is not a number") from None


def _start_time(text: str | None) -> dt.datetime | None:
    """A `datetime-local` field, read in the health centre's zone."""
    if text is None or not text.strip():
        return None
    try:
        local = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise service.CampaignError(f"start_at: {text!r} is not a date and time") from None
    return local if local.tzinfo else local.replace(tzinfo=get_settings().zone)


@router.post("/campaigns", dependencies=[Depends(csrf_protect)])
def create_campaign_form(
    request: Request,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
    preset: Annotated[str, Form()],
    name: Annotated[str | None, Form()] = None,
    unit: Annotated[str | None, Form()] = None,
    classification: Annotated[str | None, Form()] = None,
    batch: Annotated[str | None, Form()] = None,
    window: Annotated[str | None, Form()] = None,
    days: Annotated[str | None, Form()] = None,
    cps: Annotated[str | None, Form()] = None,
    max_concurrent: Annotated[str | None, Form()] = None,
    max_attempts: Annotated[str | None, Form()] = None,
    retry_delay: Annotated[str | None, Form()] = None,
    amd: Annotated[str | None, Form()] = None,
    start_at: Annotated[str | None, Form()] = None,
) -> Response:
    """Create a draft campaign; its page then shows the SMS estimate and the start button."""
    who.require_change()
    values = {
        "preset": preset,
        "name": name,
        "unit": unit,
        "classification": classification,
        "batch": batch,
        "window": window,
        "days": days,
        "cps": cps,
        "max_concurrent": max_concurrent,
        "max_attempts": max_attempts,
        "retry_delay": retry_delay,
        "amd": amd,
        "start_at": start_at,
    }
    code = (unit or "").strip() or None
    if code is not None:
        found = get_by_code(db_session=session, code=code)
        if found is None or not who.scope.allows(found.id):
            raise HTTPException(404, detail=f"unit: no unit with code {code!r}")
    try:
        if code is None and who.scope.unit_ids is not None:
            raise service.CampaignError("unit: choose one of your units")
        batch_id = _number("batch", batch, int)
        if batch_id is not None:
            found_batch = session.get(ImportBatch, batch_id)
            if found_batch is None or not who.scope.allows(found_batch.unit_id):
                raise service.CampaignError(f"batch: no import batch {batch_id}")
        campaign = service.create_campaign(
            db_session=session,
            preset=preset,
            name=(name or "").strip() or None,
            unit_code=code,
            classification=(classification or "").strip() or None,
            batch_ids=[batch_id] if batch_id is not None else None,
            window=(window or "").strip() or None,
            days=(days or "").strip() or None,
            cps=_number("cps", cps, float),
            max_concurrent=_number("max_concurrent", max_concurrent, int),
            max_attempts=_number("max_attempts", max_attempts, int),
            retry_delay_seconds=service.parse_duration(retry_delay)
            if retry_delay and retry_delay.strip()
            else None,
            amd={"yes": True, "no": False}.get(amd or ""),
            start_at=_start_time(start_at),
            created_by=who.user.username,
        )
    except service.CampaignError as exc:
        context = _form_context(session, who, values)
        context["error"] = str(exc)
        return render(request, who, "campaign_new.html", context, status_code=422)
    record_audit(
        db_session=session,
        user=who.user,
        action="campaign.create",
        object_type="campaign",
        object_id=campaign.id,
        unit_id=campaign.unit_id,
        client_ip=who.client_ip,
    )
    return RedirectResponse(f"/campaigns/{campaign.id}", status_code=303)


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(
    request: Request,
    campaign_id: int,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
) -> Response:
    campaign = _campaign_for(session, who, campaign_id)
    estimate = None
    if campaign.status in (CampaignStatus.draft, CampaignStatus.scheduled):
        estimate = estimate_campaign_sms(db_session=session, campaign=campaign)
    may_act = who.can_change and campaign_runnable(campaign=campaign, scope=who.scope)
    return render(
        request,
        who,
        "campaign.html",
        {
            "campaign": campaign,
            "progress": progress(db_session=session, campaign=campaign),
            "estimate": estimate,
            "actions": ACTIONS[campaign.status] if may_act else (),
        },
    )


@router.get("/campaigns/{campaign_id}/progress")
def campaign_progress(
    campaign_id: int,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
) -> JSONResponse:
    """Counts by status, reached %, ETA: what the campaign page shows, polled every 2 s."""
    campaign = _campaign_for(session, who, campaign_id)
    return JSONResponse(progress(db_session=session, campaign=campaign))


@router.post("/campaigns/{campaign_id}/{action}", dependencies=[Depends(csrf_protect)])
def campaign_action(
    campaign_id: int,
    action: str,
    who: Annotated[Viewer, Depends(viewer)],
    session: Annotated[Session, Depends(db_session, scope="function")],
) -> Response:
    """Start, pause, resume or cancel (audited); viewers and units below the campaign's: 403."""
    if action not in TRANSITIONS:
        raise HTTPException(404, detail=f"no action {action!r}")
    campaign = _campaign_for(session, who, campaign_id)
    who.require_change()
    if not campaign_runnable(campaign=campaign, scope=who.scope):
        raise HTTPException(403, detail="the campaign is run by a unit above yours")
    try:
        TRANSITIONS[action](db_session=session, campaign_id=campaign_id)
    except service.CampaignError as exc:
        raise HTTPException(409, detail=str(exc)) from None
    record_audit(
        db_session=session,
        user=who.user,
        action=f"campaign.{action}",
        object_type="campaign",
        object_id=campaign_id,
        unit_id=campaign.unit_id,
        client_ip=who.client_ip,
    )
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)
