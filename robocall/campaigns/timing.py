"""When a campaign may call: its calling window, and the wait before another attempt."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from robocall.campaigns.models import Campaign
from robocall.kit.windows import CallingWindow, make_window

# Seconds before another attempt, by the outcome of the last one.
DEFAULT_RETRY_DELAYS = {
    "busy": 15 * 60,
    "no_answer": 60 * 60,
    "failed": 30 * 60,
    "machine": 120 * 60,
}


class WindowSettings(Protocol):
    """A campaign's calling-window columns: the Campaign, or a row selected with them."""

    @property
    def window_ranges(self) -> str: ...
    @property
    def window_days(self) -> str: ...
    @property
    def zone(self) -> str: ...


def window_of(campaign: WindowSettings) -> CallingWindow:
    """The campaign's calling window, judged in its own zone."""
    return make_window(campaign.window_ranges, campaign.window_days, campaign.zone)


def retry_delay(campaign: Campaign, outcome: str) -> dt.timedelta | None:
    """How long to wait after `outcome` before calling again (None: no retry)."""
    delays = campaign.retry_delays or {}
    if outcome not in DEFAULT_RETRY_DELAYS:
        return None
    return dt.timedelta(seconds=float(delays.get(outcome, DEFAULT_RETRY_DELAYS[outcome])))
