"""JSON API under /api/campaigns: the same operations as `robocall campaign`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy.orm import Session

from robocall.campaigns import service
from robocall.campaigns.access import campaign_runnable, campaign_visible, visible_campaigns
from robocall.campaigns.models import Campaign
from robocall.campaigns.results import campaign_json, progress, results
from robocall.campaigns.schemas import CampaignCreate
from robocall.campaigns.sms import estimate_campaign_sms
from robocall.http.auth import api_user, csrf_protect, require_change
from robocall.http.deps import db_session
from robocall.units.service import get_by_code
from robocall.users.models import User
from robocall.users.service import Scope, record_audit, rows_shown, scope_of

router = APIRouter(prefix="/api/campaigns", tags=["campaigns"])

SessionDep = Annotated[Session, Depends(db_session, scope="function")]
UserDep = Annotated[User, Depends(api_user)]


def _visible(
    session: Session, user: User, campaign_id: int, *, to_run: bool = False
) -> tuple[Campaign, Scope]:
    """The campaign if the user may see it (404 otherwise); with `to_run`, also run it (403)."""
    try:
        campaign = service.get_campaign(db_session=session, campaign_id=campaign_id)
    except service.CampaignError:
        raise HTTPException(404, detail=f"no campaign {campaign_id}") from None
    scope = scope_of(db_session=session, user=user)
    if not campaign_visible(db_session=session, campaign=campaign, scope=scope):
        raise HTTPException(404, detail=f"no campaign {campaign_id}")
    if to_run and not campaign_runnable(campaign=campaign, scope=scope):
        raise HTTPException(403, detail="only the campaign's own unit or above may run it")
    return campaign, scope


@router.get("")
def list_route(session: SessionDep, user: UserDep) -> list[dict[str, Any]]:
    """The campaigns the user's units may see, newest first."""
    scope = scope_of(db_session=session, user=user)
    return [campaign_json(c) for c in visible_campaigns(db_session=session, scope=scope)]


@router.post("", status_code=201, dependencies=[Depends(api_user), Depends(csrf_protect)])
def create_route(body: CampaignCreate, session: SessionDep, user: UserDep) -> dict[str, Any]:
    """Create a draft campaign from a preset."""
    require_change(user)
    scope = scope_of(db_session=session, user=user)
    if body.unit:
        unit = get_by_code(db_session=session, code=body.unit)
        if unit is None:
            raise HTTPException(422, detail=f"unit: no unit with code {body.unit!r}")
        if not scope.allows(unit.id):
            raise HTTPException(403, detail="unit: outside your units")
    elif scope.unit_ids is not None:
        raise HTTPException(422, detail="unit: give one of your units")
    try:
        delay = service.parse_duration(body.retry_delay) if body.retry_delay else None
        campaign = service.create_campaign(
            db_session=session,
            preset=body.preset,
            name=body.name,
            unit_code=body.unit,
            classification=body.classification,
            batch_ids=body.batches,
            contact_ids=body.contacts,
            window=body.window,
            days=body.days,
            cps=body.cps,
            max_concurrent=body.max_concurrent,
            max_attempts=body.max_attempts,
            retry_delay_seconds=delay,
            amd=body.amd,
            start_at=body.start_at,
            created_by=user.username,
        )
    except service.CampaignError as exc:
        raise HTTPException(422, detail=str(exc)) from None
    record_audit(
        db_session=session,
        user=user,
        action="campaign.create",
        object_type="campaign",
        object_id=campaign.id,
        unit_id=campaign.unit_id,
    )
    return campaign_json(campaign)


@router.get("/{campaign_id}")
def read_route(campaign_id: int, session: SessionDep, user: UserDep) -> dict[str, Any]:
    """The campaign's settings and progress."""
    campaign, _ = _visible(session, user, campaign_id)
    return {**campaign_json(campaign), "progress": progress(db_session=session, campaign=campaign)}


@router.get("/{campaign_id}/status")
def status_route(campaign_id: int, session: SessionDep, user: UserDep) -> dict[str, Any]:
    """Attempts by status, reached %, ETA."""
    campaign, _ = _visible(session, user, campaign_id)
    return progress(db_session=session, campaign=campaign)


@router.get("/{campaign_id}/sms-estimate")
def estimate_route(campaign_id: int, session: SessionDep, user: UserDep) -> dict[str, Any]:
    """Messages, segments, encoding and estimated cost before the campaign starts."""
    campaign, _ = _visible(session, user, campaign_id)
    estimate = estimate_campaign_sms(db_session=session, campaign=campaign)
    return estimate.to_json() if estimate else {"messages": 0}


@router.get("/{campaign_id}/results")
def results_route(campaign_id: int, session: SessionDep, user: UserDep) -> list[dict[str, Any]]:
    """One entry per contact the user's units may see (reading them is audited)."""
    campaign, scope = _visible(session, user, campaign_id)
    units = None if scope.unit_ids is None else set(scope.unit_ids)
    entries = results(db_session=session, campaign=campaign, unit_ids=units)
    record_audit(
        db_session=session,
        user=user,
        action="campaign.results",
        object_type="campaign",
        object_id=campaign.id,
        unit_id=campaign.unit_id,
        detail=rows_shown([int(e["contact_id"]) for e in entries], via="api"),
    )
    return entries


def _transition(action: str, campaign_id: int, session: Session, user: User) -> dict[str, Any]:
    require_change(user)
    _visible(session, user, campaign_id, to_run=True)
    functions = {
        "start": service.start_campaign,
        "pause": service.pause_campaign,
        "resume": service.resume_campaign,
        "cancel": service.cancel_campaign,
    }
    try:
        campaign = functions[action](db_session=session, campaign_id=campaign_id)
    except service.CampaignError as exc:
        raise HTTPException(409, detail=str(exc)) from None
    record_audit(
        db_session=session,
        user=user,
        action=f"campaign.{action}",
        object_type="campaign",
        object_id=campaign_id,
        unit_id=campaign.unit_id,
    )
    return campaign_json(campaign)


@router.post("/{campaign_id}/start", dependencies=[Depends(api_user), Depends(csrf_protect)])
def start_route(campaign_id: int, session: SessionDep, user: UserDep) -> dict[str, Any]:
    """Start (or schedule) a draft campaign."""
    return _transition("start", campaign_id, session, user)


@router.post("/{campaign_id}/pause", dependencies=[Depends(api_user), Depends(csrf_protect)])
def pause_route(campaign_id: int, session: SessionDep, user: UserDep) -> dict[str, Any]:
    """Stop new calls at once."""
    return _transition("pause", campaign_id, session, user)


@router.post("/{campaign_id}/resume", dependencies=[Depends(api_user), Depends(csrf_protect)])
def resume_route(campaign_id: int, session: SessionDep, user: UserDep) -> dict[str, Any]:
    """Continue a paused campaign."""
    return _transition("resume", campaign_id, session, user)


@router.post("/{campaign_id}/cancel", dependencies=[Depends(api_user), Depends(csrf_protect)])
def cancel_route(campaign_id: int, session: SessionDep, user: UserDep) -> dict[str, Any]:
    """End the campaign."""
    return _transition("cancel", campaign_id, session, user)
