"""Running a small campaign against simulated residents and checking it attempt by attempt."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from robocall.campaigns.models import Attempt, Target
from robocall.campaigns.service import create_campaign, start_campaign

ANSWERS = "1 2 2 2 2 2 2 1"
PERSONAS = f"""
version: 1
default: {{answer: 0.0, no_answer: 1.0, seed: 1}}
numbers:
  "+84912000001": [{{answer: human, press: "{ANSWERS}"}}]
  "+84912000003": [busy, busy, no_answer]
  "+84912000004": [no_answer, {{answer: human, press: "{ANSWERS}"}}]
  "+84912000005": [machine]
  "+84912000006": [failed, {{answer: human, press: "{ANSWERS}"}}]
  "+84912000007": [busy, {{answer: human, press: "{ANSWERS}"}}]
"""
# What the retry policy (3 attempts a round) must give each number, attempt by attempt.
INTENDED = {
    "+84912000001": ["completed"],
    "+84912000003": ["busy", "busy", "no_answer"],
    "+84912000004": ["no_answer", "completed"],
    "+84912000005": ["machine", "machine", "machine"],
    "+84912000006": ["failed", "completed"],
    "+84912000007": ["busy", "completed"],
}


def make_campaign(session: Session, add_contact: Any, **options: Any) -> int:
    contacts = [add_contact(f"Người {i}", phone) for i, phone in enumerate(INTENDED)]
    campaign = create_campaign(
        db_session=session,
        preset="f1_tracing_call",
        contact_ids=[c.id for c in contacts],
        window="00:00-24:00",
        cps=options.pop("cps", 20),
        max_concurrent=options.pop("max_concurrent", 4),
        retry_delay_seconds=options.pop("retry_delay_seconds", 0.05),
        **options,
    )
    start_campaign(db_session=session, campaign_id=campaign.id)
    session.commit()
    return campaign.id


def attempts_by_phone(session: Session, campaign_id: int) -> dict[str, list[str]]:
    session.expire_all()
    rows = session.execute(
        select(Target.phone, Attempt.status)
        .join(Attempt, Attempt.target_id == Target.id)
        .where(Target.campaign_id == campaign_id)
        .order_by(Target.phone, Attempt.number)
    )
    found: dict[str, list[str]] = {}
    for phone, status in rows:
        found.setdefault(phone, []).append(status.value)
    return found


def calls_seen_by_simulator(network: Any) -> Counter[str]:
    return Counter(call.to for call in network.calls.values())


def assert_exactly_as_intended(session: Session, campaign_id: int, network: Any) -> None:
    """Every number has exactly the attempts the policy intended, and the network saw each."""
    assert attempts_by_phone(session, campaign_id) == INTENDED
    assert calls_seen_by_simulator(network) == Counter(
        {phone: len(statuses) for phone, statuses in INTENDED.items()}
    )
