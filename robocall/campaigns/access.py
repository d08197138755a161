"""Who may see and who may run a campaign, by unit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.campaigns.models import Campaign
from robocall.units.service import descendant_ids
from robocall.users.service import Scope


def campaign_visible(*, db_session: Session, campaign: Campaign, scope: Scope) -> bool:
    """Whether a user with `scope` may see the campaign: it is for one of their units, or for a
    unit above theirs (a district campaign reaches its communes, who see their own rows)."""
    if scope.unit_ids is None:
        return True
    if campaign.unit_id is None:
        return False
    below = set(descendant_ids(db_session=db_session, unit_id=campaign.unit_id))
    return bool(below & scope.unit_ids)


def campaign_runnable(*, campaign: Campaign, scope: Scope) -> bool:
    """Whether a user with `scope` may start, pause, resume or cancel it: its own unit or above."""
    return scope.allows(campaign.unit_id)


def visible_campaigns(*, db_session: Session, scope: Scope) -> list[Campaign]:
    """The campaigns a user with `scope` may see, newest first."""
    campaigns = db_session.scalars(select(Campaign).order_by(Campaign.id.desc()))
    return [
        c for c in campaigns if campaign_visible(db_session=db_session, campaign=c, scope=scope)
    ]
