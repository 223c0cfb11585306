"""Cycle arithmetic: UTC months starting on an anchor day clamped to the month's end."""

import calendar
from datetime import datetime, timezone as dt_timezone


def _anchor_in(year, month, anchor_day):
    last = calendar.monthrange(year, month)[1]
    return datetime(year, month, min(anchor_day, last), tzinfo=dt_timezone.utc)


def _next_month(year, month):
    return (year + 1, 1) if month == 12 else (year, month + 1)


def _previous_month(year, month):
    return (year - 1, 12) if month == 1 else (year, month - 1)


def cycle_bounds(anchor_day, at):
    """The [start, end) of the cycle that contains `at`."""
    at = at.astimezone(dt_timezone.utc)
    start = _anchor_in(at.year, at.month, anchor_day)
    if start > at:
        start = _anchor_in(*_previous_month(at.year, at.month), anchor_day)
    return start, _anchor_in(*_next_month(start.year, start.month), anchor_day)
