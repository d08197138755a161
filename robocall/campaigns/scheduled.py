"""The campaigns' periodic jobs: claim what is due, and recover what was lost."""

from __future__ import annotations

from robocall.campaigns.dispatch import TICK_SECONDS, scheduler_tick, sweeper_job
from robocall.workers.periodic import PeriodicJob

SWEEP_SECONDS = 15.0

JOBS = (
    PeriodicJob(
        "campaign_tick",
        TICK_SECONDS,
        scheduler_tick,
        "claim due campaign calls and SMS and queue them",
    ),
    PeriodicJob(
        "campaign_sweeper",
        SWEEP_SECONDS,
        sweeper_job,
        "recover calls and SMS whose callbacks or jobs were lost",
    ),
)
