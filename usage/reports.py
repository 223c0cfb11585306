"""Reads of usage for the API, the dashboard and the Usage page.

Each read is the roll-ups (usage.rollup: events active before its watermark) plus the
events active at or after the watermark, read live through the (workspace, activity)
index: a charge shows at the next request, and a big workspace's history is never
scanned (docs/design.md "Request data").

Every function takes the workspace first and filters by it, so one tenant never sees
another's rows.
"""

from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Sum
from django.http import QueryDict
from django.utils import timezone

from billing.money import format_credits
from config.api import InvalidRequest, date_parse, reject_unknown_fields
from teams.models import Workspace
from usage.models import DailyUsage, UsageEvent
from usage.rollup import activity, day_start, event_quantity_add, quantity_add, quantity_text, rollup_watermark

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
    group_by = query.get("group_by", "day")  # given is given: an empty one is a 400 too
    if group_by not in GROUPINGS:
        raise InvalidRequest("group_by must be day, key or product.", param="group_by")
    start, end = usage_range(query.get("start"), query.get("end"))
    return {"start": start, "end": end, "group_by": group_by}


def _of_key(rows, key_id):
    """Roll-up (or event) rows of the key with primary key `key_id`; all with None."""
    return rows if key_id is None else rows.filter(key_id=key_id)


# A read made again this many times at most when roll-up runs keep committing during it.
READ_ATTEMPTS = 3


def _with_one_watermark(read):
    """read(watermark): roll-ups and the events after `watermark` read as of one roll-up run.

    A run commits its rows and its new watermark together, but a read is several
    statements: a run committing between them would count its events twice (in its rows
    and as live events) or not at all. So the watermark is read before and after, and the
    read made again if a run committed meanwhile (runs are minutes apart, so once at most
    in practice)."""
    for _ in range(READ_ATTEMPTS):
        watermark = rollup_watermark()
        result = read(watermark)
        if rollup_watermark() == watermark:
            break
    return result


def _live_rows(workspace, start, end, key_id=None, *, watermark):
    """Rows shaped like the roll-ups' (day, key public id, key name, product, requests,
    billed, {unit: Decimal}, credits_micro, sign) for the events of days [start, end] that
    the roll-up does not hold yet: those active at or after its `watermark`.

    An event received before the watermark and charged after it (staff priced it) is in
    the roll-up on its received day as an unbilled request: a row with sign -1 takes that
    request and its units away again there, until the next run moves it."""
    low = day_start(start)
    if watermark is not None:
        low = max(low, watermark)
    events = (
        _of_key(UsageEvent.objects.order_by().alias(activity=activity()), key_id)
        .filter(workspace=workspace, activity__gte=low, activity__lt=day_start(end + timedelta(days=1)))
        .values_list(
            "charged_at", "received_at", "key__public_id", "key__name", "product", "quantity", "lines",
            "charged_micro", "billed",
        )
    )
    rows = []
    for charged_at, received_at, public_id, key_name, product, quantity, lines, credits, billed in events:
        units = {}
        event_quantity_add(units, quantity, lines)
        moment = charged_at or received_at
        rows.append((moment.date(), public_id, key_name, product, 1, 1 if billed else 0, units, credits, 1))
        moved = charged_at is not None and watermark is not None and received_at < watermark
        if moved and start <= received_at.date() <= end:
            rows.append((received_at.date(), public_id, key_name, product, 1, 0, units, 0, -1))
    return rows


_GROUP_FIELDS = {"day": "day", "key": "key__public_id", "product": "product"}
_GROUP_COLUMNS = {"day": "d.day", "key": "k.public_id", "product": "d.product"}

# PostgreSQL: the roll-ups' units summed per group as exact numerics, in the database.
_UNITS_SQL = """
SELECT {column}, q.key, SUM(q.value::numeric)
FROM usage_dailyusage d LEFT JOIN apikeys_apikey k ON k.id = d.key_id
CROSS JOIN LATERAL jsonb_each_text(d.quantity) q
WHERE d.workspace_id = %s AND d.day >= %s AND d.day <= %s{key}
GROUP BY 1, 2
"""


def _rolled_groups(workspace, start, end, group_by, key_id=None):
    """The roll-ups' part of _grouped, summed by the database (a big workspace has
    thousands of roll-up rows in a range: they are never walked in Python on PostgreSQL)."""
    field = _GROUP_FIELDS[group_by]
    rows = _of_key(DailyUsage.objects.filter(workspace=workspace, day__gte=start, day__lte=end), key_id)
    groups, names = {}, {}
    by = (field, "key__name") if group_by == "key" else (field,)
    sums = rows.values_list(*by).annotate(
        r=Sum("requests"), b=Sum("billed_requests"), c=Sum("credits_micro"),
    ).order_by()
    for *labels, requests, billed, credits in sums:
        group = groups.setdefault(labels[0], [0, 0, {}, 0])
        group[0] += requests
        group[1] += billed
        group[3] += credits
        if group_by == "key":
            names[labels[0]] = labels[1]
    if connection.vendor == "postgresql":
        params = [workspace.pk, start, end] + ([] if key_id is None else [key_id])
        sql = _UNITS_SQL.format(column=_GROUP_COLUMNS[group_by], key="" if key_id is None else " AND d.key_id = %s")
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            for value, unit, amount in cursor:
                groups.setdefault(value, [0, 0, {}, 0])[2][unit] = amount
    else:
        for value, quantity in rows.values_list(field, "quantity"):
            quantity_add(groups.setdefault(value, [0, 0, {}, 0])[2], quantity)
    return groups, names


def _grouped(workspace, start, end, group_by, key_id=None):
    """{group value: [requests, billed, {unit: Decimal}, credits_micro]} over the range (of
    one key's usage with `key_id`): the roll-ups', plus the live rows (see _live_rows)."""
    return _with_one_watermark(lambda watermark: _grouped_at(workspace, start, end, group_by, key_id, watermark))


def _grouped_at(workspace, start, end, group_by, key_id, watermark):
    groups, names = _rolled_groups(workspace, start, end, group_by, key_id)
    field = {"day": 0, "key": 1, "product": 3}[group_by]
    for row in _live_rows(workspace, start, end, key_id, watermark=watermark):
        value = row[field]
        sign = row[8]
        group = groups.setdefault(value, [0, 0, {}, 0])
        group[0] += sign * row[4]
        group[1] += row[5]
        for unit, amount in row[6].items():
            group[2][unit] = group[2].get(unit, Decimal(0)) + sign * amount
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


def usage_table(
    workspace: Workspace, *, start: date, end: date, group_by: str, key_id: int | None = None,
) -> list[dict]:
    """Rows for the Usage page's tables: label, requests, billed, quantity, credits (of one
    key's usage with `key_id`: its own page)."""
    groups, names = _grouped(workspace, start, end, group_by, key_id)
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
    key_id: int | None = None,
) -> tuple[dict[str, list[int]], list[date]]:
    """({series name: [credits_micro per day]}, [days]) with every day present (zeros too).

    split_by: None (one series), "key" or "product"; key_id: only that key's usage.
    """
    return _with_one_watermark(lambda watermark: _series_at(workspace, start, end, split_by, key_id, watermark))


def _series_at(workspace, start, end, split_by, key_id, watermark):
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    index = {day: n for n, day in enumerate(days)}
    rows = _of_key(DailyUsage.objects.filter(workspace=workspace, day__gte=start, day__lte=end), key_id)
    if split_by == "key":
        values = list(rows.values_list("day", "key__name").annotate(c=Sum("credits_micro")))
    elif split_by == "product":
        values = list(rows.values_list("day", "product").annotate(c=Sum("credits_micro")))
    else:
        values = [(day, "Credits", c) for day, c in rows.values_list("day").annotate(c=Sum("credits_micro"))]
    for day, _key_id, key_name, product, _r, _b, _u, credits, _sign in _live_rows(
        workspace, start, end, key_id, watermark=watermark
    ):
        name = key_name if split_by == "key" else product if split_by == "product" else "Credits"
        values.append((day, name, credits))
    series = {}
    for day, name, credits in values:
        series.setdefault(name or "(deleted key)", [0] * len(days))[index[day]] += credits or 0
    return series, days


def recent_events(workspace: Workspace, limit: int = 10, *, key_id: int | None = None) -> list[UsageEvent]:
    return list(
        _of_key(UsageEvent.objects.filter(workspace=workspace), key_id)
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
