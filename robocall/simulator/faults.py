"""Misbehaviour on demand: what a test asks the simulated network to get wrong."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Faults:
    """Misbehaviour on demand, for tests."""

    # The next creates (calls or SMS) fail: 429, 5xx, or a Twilio code such as 21211 (as 400).
    create_errors: list[int] = field(default_factory=list)
    # The next `slow_creates` creates answer after `slow_create_seconds` (the call is made).
    slow_creates: int = 0
    slow_create_seconds: float = 0.0
    duplicate_callbacks: bool = False  # every status callback is sent twice
    out_of_order_callbacks: bool = False  # a call's status callbacks arrive last-first
    callback_delay_seconds: float = 0.0  # status callbacks arrive this late (real seconds)
    # Paths (e.g. "/webhooks/twilio/status") whose next request times out, one per entry.
    webhook_timeouts: list[str] = field(default_factory=list)

    def update(self, values: Mapping[str, Any]) -> None:
        """Set faults by name; refuse unknown names and values of the wrong kind."""
        checked: dict[str, Any] = {}
        for name, value in values.items():
            if name not in self.__dataclass_fields__:
                raise ValueError(f"unknown fault {name!r}")
            current = getattr(self, name)
            if isinstance(current, list):
                ok = isinstance(value, list) and all(
                    isinstance(v, type(current[0]) if current else (int, str)) for v in value
                )
            elif isinstance(current, bool):
                ok = isinstance(value, bool)
            elif isinstance(current, float):
                ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
            else:
                ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            if not ok:
                raise ValueError(f"{name}: {value!r} is not a {type(current).__name__}")
            checked[name] = value
        for name, value in checked.items():
            setattr(self, name, value)
