"""Calling windows: days of the week and time ranges, judged in a named time zone."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class WindowError(ValueError):
    """A window or day list that cannot be read; the message quotes the part."""


@dataclass(frozen=True, order=True)
class TimeRange:
    start: dt.time
    end: dt.time  # exclusive

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class CallingWindow:
    """When calls may be placed: `days` (0 = Monday) × `ranges`, in `zone`."""

    days: frozenset[int]
    ranges: tuple[TimeRange, ...]
    zone: ZoneInfo

    def is_open(self, at: dt.datetime) -> bool:
        """Whether a call may start at `at` (an aware time)."""
        local = _aware(at).astimezone(self.zone)
        if local.weekday() not in self.days:
            return False
        now = local.time().replace(tzinfo=None)
        return any(r.start <= now < r.end for r in self.ranges)

    def next_open(self, at: dt.datetime) -> dt.datetime:
        """`at` if the window is open then, else the next time it opens (UTC)."""
        at = _aware(at)
        if self.is_open(at):
            return at.astimezone(dt.UTC)
        local = at.astimezone(self.zone)
        for offset in range(8):
            day = local.date() + dt.timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            for time_range in self.ranges:
                start = dt.datetime.combine(day, time_range.start, tzinfo=self.zone)
                if start > at:
                    return start.astimezone(dt.UTC)
        raise WindowError("the calling window never opens")

    def closes_at(self, at: dt.datetime) -> dt.datetime | None:
        """When the open range containing `at` ends (UTC); None if closed at `at`."""
        if not self.is_open(at):
            return None
        local = _aware(at).astimezone(self.zone)
        now = local.time().replace(tzinfo=None)
        for time_range in self.ranges:
            if time_range.start <= now < time_range.end:
                end = dt.datetime.combine(local.date(), time_range.end, tzinfo=self.zone)
                return end.astimezone(dt.UTC)
        return None

    def describe(self) -> str:
        days = ",".join(DAY_NAMES[d] for d in sorted(self.days))
        return f"{days} {','.join(map(str, self.ranges))} ({self.zone.key})"


def _aware(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("calling windows need an aware datetime")
    return at


def parse_ranges(text: str) -> tuple[TimeRange, ...]:
    """ "08:00-11:30,13:30-20:00" → ranges, sorted; overlapping ranges are refused."""
    ranges: list[TimeRange] = []
    for part in text.split(","):
        match = _RANGE.match(part)
        if not match:
            raise WindowError(f"window {part.strip()!r}: write it as HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        try:
            start = dt.time(h1, m1)
            end = dt.time(23, 59, 59, 999999) if (h2, m2) == (24, 0) else dt.time(h2, m2)
        except ValueError:
            raise WindowError(f"window {part.strip()!r}: not a time of day") from None
        if end <= start:
            raise WindowError(f"window {part.strip()!r}: the end must be after the start")
        ranges.append(TimeRange(start, end))
    ranges.sort()
    for before, after in zip(ranges, ranges[1:], strict=False):
        if after.start < before.end:
            raise WindowError(f"windows {before} and {after} overlap")
    return tuple(ranges)


def parse_days(text: str) -> frozenset[int]:
    """ "mon-sun", "mon-fri,sun", "sat" → weekday numbers (0 = Monday)."""
    days: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise WindowError(f"days {part!r}: use mon, tue, wed, thu, fri, sat, sun or a range")
        start = DAY_NAMES.index(first)
        end = DAY_NAMES.index(last) if last else start
        span = (end - start) % 7
        days.update((start + i) % 7 for i in range(span + 1))
    return frozenset(days)


@lru_cache(maxsize=256)
def make_window(
    ranges: str, days: str = "mon-sun", zone: str = "Asia/Ho_Chi_Minh"
) -> CallingWindow:
    """A calling window from its text forms (parsed once: a worker judges it on every dial)."""
    return CallingWindow(parse_days(days), parse_ranges(ranges), ZoneInfo(zone))
