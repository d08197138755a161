import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from robocall.kit.windows import WindowError, make_window, parse_days

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def vn(*args):
    return dt.datetime(*args, tzinfo=VN)


WINDOW = make_window("08:00-11:30,13:30-20:00")


@pytest.mark.parametrize(
    ("at", "is_open"),
    [
        (vn(2021, 8, 2, 7, 59), False),
        (vn(2021, 8, 2, 8, 0), True),
        (vn(2021, 8, 2, 11, 29, 59), True),
        (vn(2021, 8, 2, 11, 30), False),
        (vn(2021, 8, 2, 12, 45), False),
        (vn(2021, 8, 2, 19, 59), True),
        (vn(2021, 8, 2, 20, 0), False),
    ],
)
def test_open_is_judged_in_vietnam_time(at, is_open):
    assert WINDOW.is_open(at) is is_open
    # The same instant written in UTC gives the same answer.
    assert WINDOW.is_open(at.astimezone(dt.UTC)) is is_open


def test_next_open_moves_to_the_next_range_or_day():
    assert WINDOW.next_open(vn(2021, 8, 2, 12, 0)) == vn(2021, 8, 2, 13, 30)
    assert WINDOW.next_open(vn(2021, 8, 2, 21, 0)) == vn(2021, 8, 3, 8, 0)
    assert WINDOW.next_open(vn(2021, 8, 2, 9, 0)) == vn(2021, 8, 2, 9, 0)
    weekdays = make_window("08:00-11:30", "mon-fri")
    # Saturday evening → Monday morning.
    assert weekdays.next_open(vn(2021, 8, 7, 19, 0)) == vn(2021, 8, 9, 8, 0)
    assert WINDOW.closes_at(vn(2021, 8, 2, 9, 0)) == vn(2021, 8, 2, 11, 30)


def test_days_and_ranges_are_read_strictly():
    assert parse_days("mon-sun") == frozenset(range(7))
    assert parse_days("fri-mon") == frozenset({4, 5, 6, 0})
    assert parse_days("mon,wed") == frozenset({0, 2})
    for bad, message in [
        ("8h-11h", "write it as HH:MM-HH:MM"),
        ("11:30-08:00", "the end must be after the start"),
        ("08:00-12:00,11:00-13:00", "overlap"),
        ("25:00-26:00", "not a time of day"),
    ]:
        with pytest.raises(WindowError, match=message):
            make_window(bad)
    with pytest.raises(WindowError, match="days 'moon'"):
        parse_days("moon")


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="aware"):
        WINDOW.is_open(dt.datetime(2021, 8, 2, 9, 0))  # noqa: DTZ001 - the point of the test


def test_a_window_to_24_00_is_open_the_whole_day():
    # The demo and all-day campaigns: no minute of the day is outside it.
    window = make_window("00:00-24:00")
    assert window.is_open(vn(2021, 8, 2, 0, 0))
    assert window.is_open(vn(2021, 8, 2, 23, 59, 30))
    assert window.next_open(vn(2021, 8, 2, 23, 59, 59)) == vn(2021, 8, 2, 23, 59, 59)
