"""Creating campaigns and moving them through draft → scheduled → running ⇄ paused → end."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from robocall.campaigns.definitions import load_preset
from robocall.campaigns.models import (
    Campaign,
    CampaignKind,
    CampaignStatus,
    Schedule,
    Target,
    TargetStatus,
)
from robocall.campaigns.rounds import open_due_round
from robocall.campaigns.timing import DEFAULT_RETRY_DELAYS
from robocall.config import get_settings
from robocall.db import utcnow
from robocall.importers.service import parse_classification_option
from robocall.kit.windows import WindowError, make_window
from robocall.units.service import get_by_code

DEFAULT_WINDOW = "08:00-11:30,13:30-20:00"
DEFAULT_DAYS = "mon-sun"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


class CampaignError(ValueError):
    """A request about a campaign that cannot be done (the message says why)."""


def parse_duration(text: str) -> float:
    """Seconds in "1s", "15m", "2h", "1d" (a bare number is seconds)."""
    match = _DURATION.match(text or "")
    if not match:
        raise CampaignError(f"not a duration: {text!r} (e.g. 30s, 15m, 2h)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def create_campaign(
    *,
    db_session: Session,
    preset: str,
    name: str | None = None,
    unit_code: str | None = None,
    classification: str | None = None,
    batch_ids: list[int] | None = None,
    contact_ids: list[int] | None = None,
    window: str | None = None,
    days: str | None = None,
    cps: float | None = None,
    max_concurrent: int | None = None,
    max_attempts: int | None = None,
    retry_delay_seconds: float | None = None,
    amd: bool | None = None,
    start_at: dt.datetime | None = None,
    created_by: str | None = None,
) -> Campaign:
    """A draft campaign from a preset, with the options given overriding it."""
    try:
        base = load_preset(preset)
    except KeyError as exc:
        raise CampaignError(str(exc.args[0])) from exc
    settings = get_settings()
    audience: dict[str, Any] = dict(base.audience)
    unit_id = None
    if unit_code:
        unit = get_by_code(db_session=db_session, code=unit_code)
        if unit is None:
            raise CampaignError(f"--unit: no unit with code {unit_code!r}")
        unit_id = unit.id
        audience["units"] = [unit_code]
    if classification:
        try:
            audience["classification"] = parse_classification_option(classification).value
        except ValueError as exc:
            raise CampaignError(f"--classification: {exc}") from exc
    if batch_ids:
        audience["batches"] = list(batch_ids)
    if contact_ids:
        audience["contacts"] = list(contact_ids)
    try:
        make_window(window or DEFAULT_WINDOW, days or DEFAULT_DAYS, settings.timezone)
    except (WindowError, ValueError) as exc:
        raise CampaignError(f"--window/--days: {exc}") from exc
    for label, value in (("--cps", cps), ("--max-concurrent", max_concurrent)):
        if value is not None and value <= 0:
            raise CampaignError(f"{label} must be more than 0")
    if max_attempts is not None and max_attempts < 1:
        raise CampaignError("--max-attempts must be at least 1")
    if start_at is not None and start_at.tzinfo is None:
        raise CampaignError("--start-at needs a time zone (e.g. 2021-08-01T08:00:00+07:00)")
    delays: dict[str, float] = dict(DEFAULT_RETRY_DELAYS)
    if retry_delay_seconds is not None:
        if retry_delay_seconds < 0:
            raise CampaignError("--retry-delay cannot be negative")
        delays = {k: retry_delay_seconds for k in delays}
    campaign = Campaign(
        name=name or base.description or preset,
        kind=CampaignKind(base.kind),
        preset=preset,
        flow=base.flow,
        sms_template=base.sms_template,
        audience=audience,
        unit_id=unit_id,
        caller_id=settings.caller_id,
        window_ranges=window or DEFAULT_WINDOW,
        window_days=days or DEFAULT_DAYS,
        zone=settings.timezone,
        calls_per_second=cps or 1.0,
        max_concurrent=max_concurrent or 10,
        sms_per_second=max(cps or 1.0, 1.0),
        retry_delays=delays,
        max_attempts=max_attempts or base.max_attempts,
        amd=base.amd if amd is None else amd,
        schedule=Schedule(base.schedule),
        monitoring_days=base.monitoring_days,
        gsm7=base.gsm7,
        start_at=start_at,
        status=CampaignStatus.draft,
        created_by=created_by,
    )
    db_session.add(campaign)
    db_session.flush()
    return campaign


def get_campaign(*, db_session: Session, campaign_id: int, lock: bool = False) -> Campaign:
    """The campaign, or CampaignError naming the id."""
    query = select(Campaign).where(Campaign.id == campaign_id)
    if lock:
        query = query.with_for_update()
    campaign = db_session.scalar(query)
    if campaign is None:
        raise CampaignError(f"no campaign {campaign_id}")
    return campaign


def list_campaigns(*, db_session: Session) -> list[Campaign]:
    """Every campaign, newest first."""
    return list(db_session.scalars(select(Campaign).order_by(Campaign.id.desc())))


def start_campaign(
    *, db_session: Session, campaign_id: int, now: dt.datetime | None = None
) -> Campaign:
    """Schedule the campaign (it runs from its start time) and build its first round."""
    now = now or utcnow()
    campaign = get_campaign(db_session=db_session, campaign_id=campaign_id, lock=True)
    if campaign.status != CampaignStatus.draft:
        raise CampaignError(f"campaign {campaign.id} is {campaign.status.value}, not draft")
    if campaign.start_at and campaign.start_at > now:
        campaign.status = CampaignStatus.scheduled
        return campaign
    campaign.status = CampaignStatus.running
    campaign.started_at = now
    db_session.flush()
    open_due_round(db_session=db_session, campaign=campaign, now=now)
    return campaign


def pause_campaign(*, db_session: Session, campaign_id: int) -> Campaign:
    """Stop new calls at once; calls in progress finish."""
    campaign = get_campaign(db_session=db_session, campaign_id=campaign_id, lock=True)
    if campaign.status not in (CampaignStatus.running, CampaignStatus.scheduled):
        raise CampaignError(f"campaign {campaign.id} is {campaign.status.value}: cannot pause")
    campaign.status = CampaignStatus.paused
    return campaign


def resume_campaign(*, db_session: Session, campaign_id: int) -> Campaign:
    """Continue a paused campaign."""
    campaign = get_campaign(db_session=db_session, campaign_id=campaign_id, lock=True)
    if campaign.status != CampaignStatus.paused:
        raise CampaignError(f"campaign {campaign.id} is {campaign.status.value}, not paused")
    campaign.status = CampaignStatus.running
    if campaign.started_at is None:
        campaign.started_at = utcnow()
    return campaign


def cancel_campaign(*, db_session: Session, campaign_id: int) -> Campaign:
    """End the campaign: nothing more is dialled or sent (calls in progress finish)."""
    campaign = get_campaign(db_session=db_session, campaign_id=campaign_id, lock=True)
    if campaign.status in (CampaignStatus.completed, CampaignStatus.cancelled):
        raise CampaignError(f"campaign {campaign.id} is already {campaign.status.value}")
    campaign.status = CampaignStatus.cancelled
    campaign.finished_at = utcnow()
    db_session.execute(
        update(Target)
        .where(Target.campaign_id == campaign.id, Target.status == TargetStatus.pending)
        .values(status=TargetStatus.cancelled)
    )
    return campaign
