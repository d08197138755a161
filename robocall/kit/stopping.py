"""A stop asked for by a signal, remembered.

A signal handler that raises (SystemExit on SIGTERM) can land inside a garbage-collector
callback, where Python prints the exception and drops it. So the request is also noted here,
and a long-running loop that installs its own handler later stops at once if one came before.
"""

from __future__ import annotations

_asked: list[int] = []


def note_stop_signal(signum: int) -> None:
    """Remember that `signum` asked this process to stop."""
    _asked.append(signum)


def stop_signal_received() -> int | None:
    """The signal that asked this process to stop, if one did."""
    return _asked[0] if _asked else None
