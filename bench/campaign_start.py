"""Starting a campaign for a large audience: time and memory of opening its first round.

    uv run python bench/campaign_start.py --database-url postgresql+psycopg://…/db [--people 333000]

The database is emptied and migrated, then holds N contacts in three communes (one phone in
ten shared by two people, one person in fifty without a phone, a few hundred opt-outs of
both kinds). `robocall campaign start` is timed on a one-off campaign whose audience is all
of them. Reported: wall time, targets written, and the peak resident memory of the process
that started it (it starts in a child process, so the figure is its own).

Goal (the province-scale issue): 333,000 people in ≤ 10 s and ≤ 300 MB, on PostgreSQL.
Floor, same run: `INSERT … SELECT` of one row per contact into a scratch table, the least
the database itself takes to write that many rows from the contacts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _env(url: str, var: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ROBOCALL_DATABASE_URL=url,
        ROBOCALL_VAR_DIR=str(var),
        ROBOCALL_LOG_LEVEL="WARNING",
        ROBOCALL_SECRET_KEY=os.environ.get("ROBOCALL_SECRET_KEY", "b" * 40),
        ROBOCALL_TWILIO_AUTH_TOKEN=os.environ.get("ROBOCALL_TWILIO_AUTH_TOKEN", "c" * 40),
    )
    return env


def populate(people: int) -> int:
    """N contacts and a draft campaign to all of them; the campaign's id."""
    from sqlalchemy import MetaData, insert, select, text

    from robocall.campaigns.service import create_campaign
    from robocall.contacts.models import Classification, Contact, OptOut
    from robocall.db import get_engine, session_scope, utcnow
    from robocall.schema import upgrade
    from robocall.units.models import Unit
    from robocall.units.service import ensure_sample_units

    engine = get_engine()
    reflected = MetaData()
    reflected.reflect(engine)
    with engine.begin() as connection:
        for table in reflected.sorted_tables:
            connection.execute(text(f'DROP TABLE IF EXISTS "{table.name}" CASCADE'))
    upgrade(engine)
    today = utcnow().date()
    with session_scope() as session:
        ensure_sample_units(db_session=session)
        session.flush()
        communes = list(session.scalars(select(Unit).where(Unit.level == "commune")))[:3]
        batch: list[dict[str, object]] = []
        for n in range(people):
            phone = None if n % 50 == 0 else f"+8491{(n - n % 10 if n % 10 == 1 else n):07d}"
            batch.append(
                {
                    "unit_id": communes[n % 3].id,
                    "name": f"Người thứ {n}",
                    "match_key": f"nguoi thu {n}",
                    "phone": phone,
                    "sms_capable": phone is not None,
                    "classification": Classification.F1,
                    "exposure_date": today,
                    "created_at": utcnow(),
                    "updated_at": utcnow(),
                }
            )
            if len(batch) == 20000:
                session.execute(insert(Contact), batch)
                batch = []
        if batch:
            session.execute(insert(Contact), batch)
        session.execute(
            insert(OptOut),
            [
                {
                    "phone": f"+8491{n:07d}",
                    "unit_id": None if n % 2 else communes[0].id,
                    "by_resident": bool(n % 2),
                    "reason": "",
                    "created_at": utcnow(),
                }
                for n in range(3, min(people, 300_000), 1000)
            ],
        )
        campaign = create_campaign(db_session=session, preset="f1_tracing_call")
        return campaign.id


def floor_seconds() -> float:
    """INSERT … SELECT of one row per contact into a scratch table."""
    from sqlalchemy import text

    from robocall.db import get_engine

    with get_engine().begin() as connection:
        connection.execute(text("CREATE TEMP TABLE scratch (contact_id int, phone text)"))
        began = time.perf_counter()
        connection.execute(text("INSERT INTO scratch SELECT id, phone FROM contacts"))
        return time.perf_counter() - began


def start_in_child(campaign_id: int) -> dict[str, float]:
    """`start_campaign` in a child process: its wall time, targets and peak RSS."""
    code = """
import json, resource, sys, time
from sqlalchemy import func, select
from robocall.campaigns.models import Target
from robocall.campaigns.service import start_campaign
from robocall.db import session_scope
began = time.perf_counter()
with session_scope() as session:
    start_campaign(db_session=session, campaign_id=int(sys.argv[1]))
seconds = time.perf_counter() - began
with session_scope() as session:
    targets = session.scalar(select(func.count(Target.id)))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "targets": targets, "peak_mb": peak}))
"""
    done = subprocess.run(
        [sys.executable, "-c", code, str(campaign_id)],
        env=dict(os.environ),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="PostgreSQL (emptied!)")
    parser.add_argument("--people", type=int, default=333_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(_env(args.database_url, Path(tmp) / "var"))
        began = time.perf_counter()
        campaign_id = populate(args.people)
        print(f"{args.people:,} people written in {time.perf_counter() - began:.1f} s")
        floor = floor_seconds()
        result = start_in_child(campaign_id)
    print(f"floor (INSERT … SELECT of {args.people:,} rows): {floor:.2f} s")
    print(
        f"campaign start: {result['seconds']:.2f} s ({result['seconds'] / floor:.1f}× the floor),"
        f" {int(result['targets']):,} targets, peak RSS {result['peak_mb']:.0f} MB"
    )
    print(
        "goal ≤ 10 s and ≤ 300 MB:",
        "met" if result["seconds"] <= 10 and result["peak_mb"] <= 300 else "NOT met",
    )


if __name__ == "__main__":
    main()
