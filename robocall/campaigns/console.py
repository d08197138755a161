"""A campaign's progress in the terminal: a short bar, a status line, a summary in words."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

# Attempt outcomes in the order a reader expects them, with the words for each.
_ATTEMPT_WORDS = (
    ("completed", "answered"),
    ("no_answer", "no answer"),
    ("busy", "busy"),
    ("machine", "answering machine"),
    ("failed", "failed"),
    ("canceled", "cancelled"),
)
_IN_FLIGHT = ("queued", "dialling", "placed")
_TARGET_WORDS = (
    ("unreached", "unreached"),
    ("wrong_number", "wrong number"),
    ("opted_out", "opted out"),
    ("no_phone", "no usable phone"),
    ("cancelled", "cancelled"),
)
_SMS_WORDS = (
    ("sent", "sent"),
    ("queued", "queued"),
    ("sending", "sending"),
    ("failed", "failed"),
    ("skipped", "skipped (no SMS-capable number, or opted out)"),
)


def _listed(counts: dict[str, int], words: Iterable[tuple[str, str]]) -> list[str]:
    return [f"{counts[key]} {word}" for key, word in words if counts.get(key)]


def _percent(value: float) -> str:
    return f"{value:.1f} %"


def status_line(current: dict[str, Any]) -> str:
    """One short line while the campaign runs: state, reached, calls in flight, ETA."""
    parts = [
        current["status"],
        f"reached {current['reached']} of {current['targets']} "
        f"({_percent(current['reached_percent'])})",
    ]
    attempts = current["attempts_by_status"]
    in_flight = sum(attempts.get(key, 0) for key in _IN_FLIGHT)
    if in_flight:
        parts.append(f"{in_flight} calls under way")
    eta = current["eta_seconds"]
    if eta is not None:
        parts.append(f"about {eta:.0f} s left")
    return " · ".join(parts)


def summary_lines(current: dict[str, Any]) -> list[str]:
    """The campaign's outcome in words, a line each for numbers, calls and SMS."""
    targets = current["targets_by_status"]
    numbers = [
        f"{current['reached']} reached ({_percent(current['reached_percent'])})",
        *_listed(targets, _TARGET_WORDS),
    ]
    lines = [
        f"Campaign {current['id']} ({current['name']}): {current['status']}",
        f"Numbers called: {current['targets']} · " + ", ".join(numbers),
    ]
    attempts = current["attempts_by_status"]
    total_calls = sum(attempts.values())
    if total_calls:
        lines.append(f"Calls: {total_calls} · " + ", ".join(_listed(attempts, _ATTEMPT_WORDS)))
    sms = _listed(current["sms_by_state"], _SMS_WORDS)
    if sms:
        lines.append("SMS: " + ", ".join(sms))
    return lines


class CampaignProgress(Progress):
    """A bar with a short description, and the detail on a status line beneath it."""

    def __init__(self, console: Console) -> None:
        self.status = ""  # read while rich builds the display, in the constructor already
        super().__init__(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        if self.status:
            yield Text(self.status, no_wrap=True, overflow="ellipsis")

    def show(self, task: Any, current: dict[str, Any]) -> None:
        """Move the bar to the campaign's progress and write its status line."""
        self.status = status_line(current)
        self.update(task, total=current["targets"] or 1, completed=current["done"])
