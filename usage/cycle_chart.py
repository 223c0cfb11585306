"""The current billing cycle on the Usage page's chart: its included credits as a line, and
the credits the cycle has used so far, day by day, as a second line to read it against."""

from datetime import date, datetime, timedelta

from django.utils import timezone

from billing.cycles import CycleWindow, cycle_current
from billing.money import MICRO
from teams.models import Workspace
from usage.charts import IncludedLine
from usage.reports import daily_series


def included_line(
    workspace: Workspace, *, start: date, end: date, window: CycleWindow | None = None,
    now: datetime | None = None,
) -> IncludedLine | None:
    """The line for the chart's days [start, end] that fall in the current cycle (`window`,
    the page's billing.selectors.cycle_usage bounds; read when not given); None when the
    plan includes no credits or the days miss the cycle."""
    now = now or timezone.now()
    included_micro = workspace.billing.included_credits * MICRO
    if not included_micro:
        return None
    window = window or cycle_current(workspace.pk, at=now)
    first, last = window.start.date(), (window.end - timedelta(microseconds=1)).date()
    shown_from, shown_to = max(start, first), min(end, last)
    if shown_from > shown_to:
        return None
    today = now.date()
    # The cycle from its first day, so a range starting mid-cycle still shows the running total.
    series, days = daily_series(workspace, start=first, end=max(first, min(shown_to, today)))
    running, used_by_day = 0, {}
    for index, day in enumerate(days):
        running += sum(values[index] for values in series.values())
        used_by_day[day] = running
    shown = [shown_from + timedelta(days=n) for n in range((shown_to - shown_from).days + 1)]
    return IncludedLine(
        days=shown, used_micro=[used_by_day.get(day) if day <= today else None for day in shown],
        included_micro=included_micro,
    )
