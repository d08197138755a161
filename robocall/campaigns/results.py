"""What a campaign achieved: progress while it runs, and one result per contact."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from robocall.campaigns.models import (
    Attempt,
    Campaign,
    CampaignRound,
    CampaignStatus,
    Target,
    TargetStatus,
)
from robocall.contacts.models import Contact
from robocall.db import utcnow
from robocall.hotline.models import HotlineReport
from robocall.ivr.models import CallAnswer, CallSession
from robocall.telephony.messages import Message

DONE = {
    TargetStatus.reached,
    TargetStatus.unreached,
    TargetStatus.wrong_number,
    TargetStatus.opted_out,
    TargetStatus.no_phone,
    TargetStatus.cancelled,
}
# A contact's outcome over every round, most telling first.
OUTCOME_ORDER = ("opted_out", "wrong_number", "reached", "no_phone", "unreached")


def campaign_json(campaign: Campaign) -> dict[str, Any]:
    """The campaign's settings as the API and `campaign status --json` show them."""
    return {
        "id": campaign.id,
        "name": campaign.name,
        "kind": campaign.kind.value,
        "preset": campaign.preset,
        "flow": campaign.flow,
        "sms_template": campaign.sms_template,
        "audience": campaign.audience,
        "status": campaign.status.value,
        "schedule": campaign.schedule.value,
        "monitoring_days": campaign.monitoring_days,
        "window": campaign.window_ranges,
        "days": campaign.window_days,
        "zone": campaign.zone,
        "calls_per_second": campaign.calls_per_second,
        "max_concurrent": campaign.max_concurrent,
        "max_attempts": campaign.max_attempts,
        "retry_delays": campaign.retry_delays,
        "amd": campaign.amd,
        "start_at": _iso(campaign.start_at),
        "started_at": _iso(campaign.started_at),
        "finished_at": _iso(campaign.finished_at),
        "unit_id": campaign.unit_id,
    }


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _count_by(
    db_session: Session, word: Any, key: Any, campaign_column: Any, campaign_id: int
) -> Counter[str]:
    """How many rows of the campaign have each value of `word` (a status enum column)."""
    rows = db_session.execute(
        select(word, func.count(key)).where(campaign_column == campaign_id).group_by(word)
    )
    return Counter({value.value: n for value, n in rows})


def progress(
    *, db_session: Session, campaign: Campaign, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Counts by status, reached %, and an ETA from the rate so far."""
    now = now or utcnow()
    targets = _count_by(db_session, Target.status, Target.id, Target.campaign_id, campaign.id)
    attempts = _count_by(db_session, Attempt.status, Attempt.id, Attempt.campaign_id, campaign.id)
    sms = _count_by(db_session, Target.sms_state, Target.id, Target.campaign_id, campaign.id)
    total = sum(targets.values())
    done = sum(targets[s.value] for s in DONE)
    reached = targets[TargetStatus.reached.value]
    eta: float | None = None
    if campaign.status == CampaignStatus.running and campaign.started_at and done and total > done:
        elapsed = (now - campaign.started_at).total_seconds()
        eta = round(elapsed / done * (total - done), 1)
    rounds = db_session.scalar(
        select(func.count(CampaignRound.id)).where(CampaignRound.campaign_id == campaign.id)
    )
    return {
        "id": campaign.id,
        "name": campaign.name,
        "status": campaign.status.value,
        "rounds": rounds or 0,
        "targets": total,
        "done": done,
        "reached": reached,
        "reached_percent": round(100.0 * reached / total, 1) if total else 0.0,
        "targets_by_status": dict(targets),
        "attempts_by_status": dict(attempts),
        "sms_by_state": {k: v for k, v in sms.items() if k != "none"},
        "eta_seconds": eta,
    }


def results(
    *, db_session: Session, campaign: Campaign, unit_ids: set[int] | None = None
) -> list[dict[str, Any]]:
    """One entry per contact of the campaign (in `unit_ids` when given), by contact id."""
    targets = list(
        db_session.scalars(
            select(Target).where(Target.campaign_id == campaign.id).order_by(Target.id)
        )
    )
    by_contact: dict[int, list[Target]] = defaultdict(list)
    for target in targets:
        for contact_id in target.contact_ids:
            by_contact[contact_id].append(target)
    attempts: dict[int, list[Attempt]] = defaultdict(list)
    for attempt in db_session.scalars(
        select(Attempt).where(Attempt.campaign_id == campaign.id).order_by(Attempt.id)
    ):
        attempts[attempt.target_id].append(attempt)
    sids = [a.call_sid for group in attempts.values() for a in group if a.call_sid]
    sessions = (
        {
            s.call_sid: s
            for s in db_session.scalars(select(CallSession).where(CallSession.call_sid.in_(sids)))
        }
        if sids
        else {}
    )
    answers: dict[int, list[CallAnswer]] = defaultdict(list)
    reports: dict[int, list[HotlineReport]] = defaultdict(list)
    if sessions:
        ids = [s.id for s in sessions.values()]
        for answer in db_session.scalars(
            select(CallAnswer).where(CallAnswer.call_session_id.in_(ids)).order_by(CallAnswer.id)
        ):
            answers[answer.call_session_id].append(answer)
        for report in db_session.scalars(
            select(HotlineReport).where(HotlineReport.call_session_id.in_(ids))
        ):
            assert report.call_session_id is not None
            reports[report.call_session_id].append(report)
    message_sids = [t.message_sid for t in targets if t.message_sid]
    messages = (
        {m.sid: m for m in db_session.scalars(select(Message).where(Message.sid.in_(message_sids)))}
        if message_sids
        else {}
    )
    contacts = {
        c.id: c for c in db_session.scalars(select(Contact).where(Contact.id.in_(list(by_contact))))
    }
    out: list[dict[str, Any]] = []
    for contact_id in sorted(by_contact):
        contact = contacts.get(contact_id)
        if contact is None or (unit_ids is not None and contact.unit_id not in unit_ids):
            continue
        own = by_contact[contact_id]
        statuses = {t.status.value for t in own}
        outcome = next((o for o in OUTCOME_ORDER if o in statuses), "unreached")
        entry_attempts: list[dict[str, Any]] = []
        entry_answers: list[dict[str, Any]] = []
        symptomatic = urgent = False
        for target in own:
            for attempt in attempts[target.id]:
                entry_attempts.append(
                    {
                        "status": attempt.status.value,
                        "answered_by": attempt.answered_by,
                        "started_at": _iso(attempt.dialled_at),
                        "duration": attempt.duration_seconds,
                    }
                )
                session = sessions.get(attempt.call_sid or "")
                if session is None:
                    continue
                entry_answers.extend(
                    {"question": a.node, "value": a.value, "key": a.key, "at": _iso(a.answered_at)}
                    for a in answers[session.id]
                )
                for report in reports[session.id]:
                    symptomatic = symptomatic or bool(report.symptoms)
                    urgent = urgent or report.urgent
        sms = [
            {"status": m.status.value, "segments": m.segments, "encoding": m.encoding.value}
            for m in (messages.get(t.message_sid or "") for t in own)
            if m is not None
        ]
        out.append(
            {
                "contact_id": contact_id,
                "name": contact.name,
                "phone": contact.phone,
                "unit_id": contact.unit_id,
                "commune": contact.commune,
                "outcome": outcome,
                "symptomatic": symptomatic,
                "urgent": urgent,
                "answers": entry_answers,
                "attempts": entry_attempts,
                "sms": sms,
            }
        )
    return out
