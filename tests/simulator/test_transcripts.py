"""Transcripts: written to Redis in the background, in order, readable from any process."""

from __future__ import annotations

import time

from robocall.simulator.delivery import FLUSH_EVERY, Transcripts
from robocall.workers.connection import get_redis

SID = "CA" + "1" * 32


def test_lines_reach_redis_in_order_without_the_writer_asking():
    writer = Transcripts(get_redis())
    writer.begin(SID, "call", "+84900000001 → +84912000001")
    for n in range(50):
        writer.add(SID, "say", f"câu {n}")
    # Another process reads Redis directly: the lines arrive there on their own, soon.
    reader = Transcripts(get_redis())
    # Soon is a batch or two (FLUSH_EVERY); the deadline leaves room for a loaded machine.
    deadline = time.monotonic() + 10.0
    while len(lines := reader.get(SID)) < 51 and time.monotonic() < deadline:
        time.sleep(FLUSH_EVERY / 5)
    assert [line["text"] for line in lines] == [
        "+84900000001 → +84912000001",
        *(f"câu {n}" for n in range(50)),
    ]
    assert [line["elapsed"] for line in lines] == sorted(line["elapsed"] for line in lines)
    assert get_redis().ttl(f"robocall:simulator:transcript:{SID}") > 0  # they expire in time


def test_reading_in_the_writing_process_sees_every_line_at_once():
    writer = Transcripts(get_redis())
    writer.begin(SID, "call", "gọi")
    writer.add(SID, "end", "call no-answer", duration=0)
    assert [line["kind"] for line in writer.get(SID)] == ["call", "end"]
