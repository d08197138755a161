"""Campaign export speed and memory: a finished campaign of N people written as xlsx and CSV.

    uv run python bench/campaign_export.py [--contacts 20000]

A fresh SQLite file holds N contacts in three communes and a finished one-off campaign: one
target per person, 1–3 attempts each, an SMS to those no call reached. Reports, per format:
wall time, people per second, file size, and the Python heap's peak (tracemalloc) while
writing. Baseline in the same run: the contacts export of the same N people (one sheet).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import tempfile
import time
import tracemalloc
from pathlib import Path


def setup_env(tmp: Path) -> None:
    os.environ["ROBOCALL_VAR_DIR"] = str(tmp / "var")
    os.environ["ROBOCALL_DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ["ROBOCALL_LOG_LEVEL"] = "WARNING"


def populate(contacts: int) -> int:
    """N people and a finished campaign to them; its id."""
    from sqlalchemy import insert, select

    from robocall.campaigns.models import (
        Attempt,
        AttemptStatus,
        Campaign,
        CampaignKind,
        CampaignRound,
        CampaignStatus,
        SmsState,
        Target,
        TargetStatus,
    )
    from robocall.contacts.models import Classification, Contact
    from robocall.db import session_scope, utcnow
    from robocall.telephony.base import MessageStatus
    from robocall.telephony.messages import Message, MessageDirection, SmsEncoding
    from robocall.units.models import Unit
    from robocall.units.service import ensure_sample_units

    now = utcnow()
    with session_scope() as session:
        ensure_sample_units(db_session=session)
        session.flush()
        communes = list(session.scalars(select(Unit).where(Unit.level == "commune")))[:3]
        session.execute(
            insert(Contact),
            [
                {
                    "unit_id": communes[i % 3].id,
                    "name": f"Nguyễn Văn Số {i}",
                    "match_key": f"nguyen van so {i}",
                    "phone": f"+8491{i:07d}",
                    "sms_capable": True,
                    "classification": Classification.F1,
                    "hamlet": f"Khu phố {i % 7 + 1}",
                    "address_detail": f"{i} Đường số {i % 20}",
                }
                for i in range(contacts)
            ],
        )
        ids = list(session.scalars(select(Contact.id).order_by(Contact.id)))
        campaign = Campaign(
            name="bench",
            kind=CampaignKind.call_then_sms,
            caller_id="+842800000000",
            status=CampaignStatus.completed,
            started_at=now,
            finished_at=now,
        )
        session.add(campaign)
        session.flush()
        round_ = CampaignRound(campaign_id=campaign.id, number=1, day=now.date())
        session.add(round_)
        session.flush()
        outcomes = [TargetStatus.reached, TargetStatus.reached, TargetStatus.unreached]
        session.execute(
            insert(Target),
            [
                {
                    "campaign_id": campaign.id,
                    "round_id": round_.id,
                    "phone": f"+8491{i:07d}",
                    "contact_ids": [cid],
                    "status": outcomes[i % 3],
                    "sms_state": SmsState.sent if i % 3 == 2 else SmsState.none,
                    "message_sid": f"SM{i:08d}" if i % 3 == 2 else None,
                }
                for i, cid in enumerate(ids)
            ],
        )
        targets = list(session.scalars(select(Target.id).order_by(Target.id)))
        attempts = []
        for i, target_id in enumerate(targets):
            tries = 3 if i % 3 == 2 else 1 + i % 2
            for n in range(1, tries + 1):
                final = n == tries and i % 3 != 2
                attempts.append(
                    {
                        "campaign_id": campaign.id,
                        "target_id": target_id,
                        "number": n,
                        "status": AttemptStatus.completed if final else AttemptStatus.no_answer,
                        "call_sid": f"CA{i:08d}{n}",
                        "dialled_at": now - dt.timedelta(minutes=n),
                        "duration_seconds": 60 if final else 0,
                    }
                )
        session.execute(insert(Attempt), attempts)
        session.execute(
            insert(Message),
            [
                {
                    "sid": f"SM{i:08d}",
                    "direction": MessageDirection.outbound,
                    "to_number": f"+8491{i:07d}",
                    "from_number": "+842800000000",
                    "body": "Trung tâm Y tế: xin gọi lại",
                    "status": MessageStatus.delivered,
                    "segments": 3,
                    "encoding": SmsEncoding.ucs2,
                }
                for i in range(contacts)
                if i % 3 == 2
            ],
        )
        return campaign.id


def measure(name: str, fmt: str, campaign_id: int | None) -> dict[str, float]:
    from robocall.db import session_scope
    from robocall.exports.service import ExportRequest, write_export
    from robocall.users.service import Scope

    target = io.BytesIO()
    tracemalloc.start()
    started = time.perf_counter()
    with session_scope() as session:
        request = ExportRequest(scope=Scope(None), campaign_id=campaign_id)
        write_export(db_session=session, name=name, fmt=fmt, request=request, target=target)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"seconds": seconds, "bytes": len(target.getvalue()), "peak_mb": peak / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=20000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="robocall-bench-export-"))
    setup_env(tmp)
    from robocall import models  # noqa: F401
    from robocall.schema import upgrade

    upgrade()
    campaign_id = populate(args.contacts)
    print(f"{args.contacts} people, campaign {campaign_id}")
    for label, name, fmt, cid in [
        ("baseline: contacts xlsx", "contacts", "xlsx", None),
        ("campaign xlsx (5 sheets)", "campaign", "xlsx", campaign_id),
        ("campaign csv (results)", "campaign", "csv", campaign_id),
    ]:
        m = measure(name, fmt, cid)
        print(
            f"{label:<26} {m['seconds']:6.2f} s  {args.contacts / m['seconds']:8.0f} people/s  "
            f"{m['bytes'] / 2**20:6.2f} MB file  peak heap {m['peak_mb']:6.1f} MB"
        )


if __name__ == "__main__":
    main()
