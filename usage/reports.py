"""Reads of usage for the API, the dashboard and the Usage page; all from the roll-ups.

Every function takes the workspace first and filters by it, so one tenant never sees
another's rows.
"""

from datetime import date, timedelta

from django.db.models import Sum
from django.http import QueryDict
from django.utils import timezone

from billing.money import format_credits
from config.api import InvalidRequest, date_parse, reject_unknown_fields
from teams.models import Workspace
from usage.models import DailyUsage, UsageEvent
from usage.rollup import quantity_add, quantity_text

GROUPINGS = ("day", "key", "product")
MAX_RANGE_DAYS = 400
DEFAULT_RANGE_DAYS = 30


def usage_range(
    start: str | None, end: str | None, *, default_days: int = DEFAULT_RANGE_DAYS,
    today: date | None = None,
) -> tuple[date, date]:
    """(start, end) dates, inclusive, validated; defaults to the last `default_days` days."""
    today = today or timezone.now().date()
    # Given is given: an empty or malformed date is a 400, never quietly the default range.
    end = date_parse(end, "end") if end is not None else today
    start = date_parse(start, "start") if start is not None else end - timedelta(days=default_days - 1)
    if start > end:
        raise InvalidRequest("start must be on or before end.", param="start")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise InvalidRequest(f"A range covers at most {MAX_RANGE_DAYS} days.", param="start")
    return start, end


def usage_query_params(query: QueryDict) -> dict:
    """Validated keyword arguments of usage_query from a QueryDict (GET /api/v1/usage)."""
    reject_unknown_fields(query, ("start", "end", "group_by"))
    group_by = query.get("group_by") or "day"
    if group_by not in GROUPINGS:
        raise InvalidRequest("group_by must be day, key or product.", param="group_by")
    start, end = usage_range(query.get("start"), query.get("end"))
    return {"start": start, "end": end, "group_by": group_by}


def _grouped(workspace, start, end, group_by):
    """{group value: [requests, billed, {unit: Decimal}, credits_micro]} over the range."""
    rows = DailyUsage.objects.filter(workspace=workspace, day__gte=start, day__lte=end).values_list(
        "day", "key__public_id", "key__name", "product", "requests", "billed_requests",
        "quantity", "credits_micro",
    )
    field = {"day": 0, "key": 1, "product": 3}[group_by]
    groups, names = {}, {}
    for row in rows:
        value = row[field]
        group = groups.setdefault(value, [0, 0, {}, 0])
        group[0] += row[4]
        group[1] += row[5]
        quantity_add(group[2], row[6])
        group[3] += row[7]
        names[row[1]] = row[2]
    return groups, names


def usage_query(workspace: Workspace, *, start: date, end: date, group_by: str = "day") -> dict:
    """The body of GET /api/v1/usage: rows of one grouping and the total in credits.

    Every row has `day`, `key_id` and `product`; the ones not grouped by are null.
    """
    groups, _ = _grouped(workspace, start, end, group_by)
    rows, total = [], 0
    for value in sorted(groups, key=lambda v: (v is None, str(v))):
        requests, _billed, quantity, credits = groups[value]
        total += credits
        rows.append({
            "day": value.isoformat() if group_by == "day" else None,
            "key_id": value if group_by == "key" else None,
            "product": value if group_by == "product" else None,
            "requests": requests,
            "quantity": quantity_text(quantity),
            "credits": format_credits(credits),
        })
    return {
        "start": start.isoformat(), "end": end.isoformat(), "group_by": group_by,
        "rows": rows, "total_credits": format_credits(total),
    }


def usage_table(workspace: Workspace, *, start: date, end: date, group_by: str) -> list[dict]:
    """Rows for the Usage page's tables: label, requests, billed, quantity, credits."""
    groups, names = _grouped(workspace, start, end, group_by)
    rows = []
    for value, (requests, billed, quantity, credits) in groups.items():
        label = value
        if group_by == "key":
            label = names.get(value) or "(deleted key)"
        rows.append({
            "value": value.isoformat() if isinstance(value, date) else value,
            "label": label, "requests": requests, "billed": billed,
            "quantity": quantity_text(quantity), "credits_micro": credits,
        })
    if group_by == "day":
        rows.sort(key=lambda r: r["value"])
    else:
        rows.sort(key=lambda r: (-r["credits_micro"], str(r["label"])))
    return rows


def daily_series(
    workspace: Workspace, *, start: date, end: date, split_by: str | None = None,
) -> tuple[dict[str, list[int]], list[date]]:
    """({series name: [credits_micro per day]}, [days]) with every day present (zeros too).

    split_by: None (one series), "key" or "product".
    """
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    index = {day: n for n, day in enumerate(days)}
    rows = DailyUsage.objects.filter(workspace=workspace, day__gte=start, day__lte=end)
    if split_by == "key":
        values = rows.values_list("day", "key__name").annotate(c=Sum("credits_micro"))
    elif split_by == "product":
        values = rows.values_list("day", "product").annotate(c=Sum("credits_micro"))
    else:
        values = ((day, "Credits", c) for day, c in rows.values_list("day").annotate(c=Sum("credits_micro")))
    series = {}
    for day, name, credits in values:
        series.setdefault(name or "(deleted key)", [0] * len(days))[index[day]] += credits or 0
    return series, days


def credits_between(workspace: Workspace, start: date, end: date) -> int:
    """Credits used per the roll-ups on days [start, end], in micro-credits."""
    total = DailyUsage.objects.filter(workspace=workspace, day__gte=start, day__lte=end).aggregate(
        s=Sum("credits_micro")
    )["s"]
    return total or 0


def recent_events(workspace: Workspace, limit: int = 10) -> list[UsageEvent]:
    return list(
        UsageEvent.objects.filter(workspace=workspace)
        .select_related("key")
        .order_by("-received_at", "-id")[:limit]
    )


def event_lookup(workspace: Workspace, event_id: str | None) -> UsageEvent | None:
    """One event of this workspace by the gateway's request id, or None."""
    if not event_id:
        return None
    return (
        UsageEvent.objects.filter(workspace=workspace, event_id=event_id.strip())
        .select_related("key")
        .first()
    )
