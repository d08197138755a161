"""Request bodies of the campaigns API."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class CampaignCreate(BaseModel):
    preset: str
    name: str | None = None
    unit: str | None = Field(None, description="Unit code; the campaign covers it and below.")
    classification: str | None = None
    batches: list[int] | None = None
    contacts: list[int] | None = None
    window: str | None = Field(None, description='e.g. "08:00-11:30,13:30-20:00"')
    days: str | None = Field(None, description="e.g. mon-sun")
    cps: float | None = None
    max_concurrent: int | None = None
    max_attempts: int | None = None
    retry_delay: str | None = Field(None, description="One delay for every outcome: 1s, 15m …")
    amd: bool | None = None
    start_at: dt.datetime | None = None
