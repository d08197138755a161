"""ListCall filters (To, From, Status, StartTime, EndTime) and Twilio's paging JSON."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from robocall.simulator.resources import SimCall, SimulatorError

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def _when(name: str, value: str) -> tuple[dt.datetime, bool]:
    """A filter time and whether it was a whole day (`YYYY-MM-DD`)."""
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC), True
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SimulatorError(400, 20001, f"{name}: {value!r} is not a date or time") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)), False


def _time_matches(moment: dt.datetime | None, filters: Mapping[str, str], field: str) -> bool:
    for suffix in ("", "<", ">"):
        name = field + suffix
        raw = filters.get(name)
        if not raw:
            continue
        if moment is None:
            return False
        bound, whole_day = _when(name, raw)
        if suffix == "":
            if whole_day and moment.date() != bound.date():
                return False
            if not whole_day and moment != bound:
                return False
        elif suffix == "<":
            # Twilio: "on or before" that day.
            limit = bound + dt.timedelta(days=1) if whole_day else bound
            if moment >= limit if whole_day else moment > limit:
                return False
        elif moment < bound:
            return False
    return True


def matches_call(call: SimCall, filters: Mapping[str, str]) -> bool:
    """Whether `call` passes the ListCall query filters."""
    if filters.get("To") and call.to != filters["To"]:
        return False
    if filters.get("From") and call.from_ != filters["From"]:
        return False
    if filters.get("Status") and call.status != filters["Status"]:
        return False
    return _time_matches(call.start_time, filters, "StartTime") and _time_matches(
        call.end_time, filters, "EndTime"
    )


def page(
    *, key: str, records: list[dict[str, Any]], path: str, query: Mapping[str, str]
) -> dict[str, Any]:
    """One page of a list in Twilio's shape, with next/previous page URIs."""
    try:
        size = int(query.get("PageSize") or DEFAULT_PAGE_SIZE)
        number = int(query.get("Page") or 0)
    except ValueError:
        raise SimulatorError(400, 20001, "PageSize and Page must be whole numbers") from None
    if not 1 <= size <= MAX_PAGE_SIZE or number < 0:
        raise SimulatorError(400, 20001, "PageSize must be 1 to 1000 and Page 0 or more")
    filters = {k: v for k, v in query.items() if k not in {"PageSize", "Page", "PageToken"}}
    start = number * size
    chunk = records[start : start + size]

    def uri(page_number: int) -> str:
        return f"{path}?{urlencode({**filters, 'PageSize': size, 'Page': page_number})}"

    return {
        key: chunk,
        "end": start + max(len(chunk) - 1, 0),
        "first_page_uri": uri(0),
        "next_page_uri": uri(number + 1) if start + size < len(records) else None,
        "page": number,
        "page_size": size,
        "previous_page_uri": uri(number - 1) if number > 0 else None,
        "start": start,
        "uri": uri(number),
    }
