"""The daily roll-up: usage events -> DailyUsage rows per (workspace, day, key, product).

Incremental and idempotent. Each run recomputes, from the events, every (workspace, day)
that an event touched since the last run's watermark (minus a margin for transactions
that were still open), replacing that day's rows. Re-running over the same days gives the
same rows; a late event for an old day moves its `touched_at` and so its day is redone.
The whole run is one transaction: a failing query raises and writes nothing (no zeros).

An event counts at its activity time, `COALESCE(charged_at, received_at)` (the ledger
charge, or the receipt of an event never charged), on that UTC day. A run sets its
watermark to the moment it starts and rolls up only the events whose activity is before
it; the reads (usage.reports) add the events whose activity is at or after the watermark,
read live through the (workspace, activity) index, so a charge shows at the next request
and each event is counted once.
"""

import json
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, timezone as dt_timezone
from decimal import Decimal
from typing import NamedTuple

from dateutil.relativedelta import relativedelta
from django.db import connection, transaction
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from pricing.events import decimal_text
from usage import partitions
from usage.models import IDEMPOTENCY_DAYS, DailyUsage, RollupState, UsageEvent, UsageEventKey

# Transactions that began before a run may commit after it; their events carry an earlier
# touched_at. Looking back this far covers any request that takes less than it.
MARGIN = timedelta(minutes=5)
BILLING_FIELDS_KEPT = relativedelta(months=13)
QUALIFIERS = ("machine", "instance")


def activity():
    """When an event counts: its ledger charge, or its receipt when it was never charged
    (the expression of the index usage_event_ws_activity)."""
    return Coalesce("charged_at", "received_at")


def rollup_watermark() -> datetime | None:
    """Events whose activity is before this are in the roll-up; None before the first run."""
    return RollupState.objects.filter(name="daily").values_list("watermark", flat=True).first()


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=dt_timezone.utc)


def _touched_days(since):
    # order_by(): the model's default ordering would make DISTINCT return one row per event.
    events = UsageEvent.objects.order_by()
    if since is not None:
        events = events.filter(touched_at__gte=since)
    pairs = set(
        events.annotate(day=TruncDate(activity()))
        .values_list("workspace_id", "day").distinct()
    )
    # An unpriced event charged later moves from its received day to its charge day: the
    # received day must be redone too.
    pairs |= set(
        events.filter(charged_at__isnull=False)
        .annotate(day=TruncDate("received_at"))
        .values_list("workspace_id", "day").distinct()
    )
    return sorted(pairs)


def quantity_add(total: dict[str, Decimal], quantity: dict | None, times: int = 1) -> None:
    """Add one quantity dict of decimal strings into `total` (Decimals), `times` times (-1
    takes it away); qualifiers skipped."""
    for unit, value in (quantity or {}).items():
        if unit in QUALIFIERS:
            continue
        total[unit] = total.get(unit, Decimal(0)) + times * Decimal(str(value))


def quantity_text(total: dict[str, Decimal]) -> dict[str, str]:
    return {unit: decimal_text(value) for unit, value in sorted(total.items())}


def event_quantity_add(total: dict[str, Decimal], quantity: dict | None, lines, times: int = 1) -> None:
    """An event's units (its own and its workflow lines') into `total`, `times` times."""
    quantity_add(total, quantity, times)
    for line in lines or ():
        quantity_add(total, line.get("quantity"), times)


def _day_rows(workspace_id, day, until):
    """The day's DailyUsage rows from its events whose activity is before `until`."""
    start = day_start(day)
    events = UsageEvent.objects.order_by().alias(activity=activity()).filter(
        workspace_id=workspace_id, activity__gte=start, activity__lt=min(start + timedelta(days=1), until),
    )
    groups = {}
    for key_id, product, quantity, lines, charged, billed in events.values_list(
        "key_id", "product", "quantity", "lines", "charged_micro", "billed"
    ).iterator(chunk_size=5000):
        group = groups.setdefault((workspace_id, day, key_id, product), [0, 0, {}, 0])
        group[0] += 1
        group[1] += 1 if billed else 0
        event_quantity_add(group[2], quantity, lines)
        group[3] += charged
    return _rows_from(groups)


class Row(NamedTuple):
    """One DailyUsage row's values (a model instance per row cost more than the run's SQL)."""

    workspace_id: int
    day: date
    key_id: int | None
    product: str
    requests: int
    billed_requests: int
    quantity: dict
    credits_micro: int


def _rows_from(groups):
    return [
        Row(workspace_id, day, key_id, product, requests, billed, quantity_text(quantity), credits)
        for (workspace_id, day, key_id, product), (requests, billed, quantity, credits) in sorted(
            groups.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or 0, item[0][3])
        )
    ]


# PostgreSQL: every touched day of every workspace in one aggregate, grouped down to each
# distinct quantity (an event's units are a small JSON object, and most events of a day,
# key and product share a few): Python then adds each distinct quantity times its count.
# Summing the units in SQL (jsonb_each_text per event) cost 4 times as much.
_PG_ROWS = """
SELECT e.workspace_id, (COALESCE(e.charged_at, e.received_at) AT TIME ZONE 'UTC')::date AS day,
       e.key_id, e.product, e.quantity, e.lines,
       COUNT(*), COUNT(*) FILTER (WHERE e.billed), COALESCE(SUM(e.charged_micro), 0)::bigint
FROM {events}
WHERE COALESCE(e.charged_at, e.received_at) < %(until)s
GROUP BY 1, 2, 3, 4, 5, 6
"""

# The touched days, each read through the (workspace, activity) index. As a join (or a
# LATERAL subquery, which the planner flattens into one) PostgreSQL read 1,003 touched days
# of 12 M events with parallel sequential scans of the whole table, 6.6 s; OFFSET 0 keeps
# the subquery whole, so it runs once per day through the index: 1.1 s.
_PG_PAIRS = """unnest(%(workspaces)s::bigint[], %(days)s::date[]) AS t(workspace_id, day)
CROSS JOIN LATERAL (
  SELECT * FROM usage_usageevent d
  WHERE d.workspace_id = t.workspace_id
    AND COALESCE(d.charged_at, d.received_at) >= t.day::timestamp AT TIME ZONE 'UTC'
    AND COALESCE(d.charged_at, d.received_at) < (t.day + 1)::timestamp AT TIME ZONE 'UTC'
  OFFSET 0
) AS e"""


def _rows_pg(pairs, until):
    """DailyUsage rows of `pairs` (None: every day of every workspace) in one statement."""
    params = {"until": until}
    if pairs is None:
        sql = _PG_ROWS.format(events="usage_usageevent e")
    elif not pairs:
        return []
    else:
        sql = _PG_ROWS.format(events=_PG_PAIRS)
        params.update(workspaces=[ws for ws, _ in pairs], days=[day for _, day in pairs])
    groups, units_of = {}, {}
    with transaction.atomic(), connection.cursor() as cursor:
        # The planner expects far more groups than the events make (it cannot tell how few
        # distinct JSON quantities there are) and sorts every event to group them; hashing
        # took 1.4 s instead of 4.0 s for a day of 1 M events, 12 s instead of 21 s for
        # 11 M (docs/performance.md). LOCAL: a failure ends it with the transaction.
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(10_000):
            for workspace_id, day, key_id, product, quantity, lines, count, billed, credits in chunk:
                group = groups.get((workspace_id, day, key_id, product))
                if group is None:
                    group = groups[(workspace_id, day, key_id, product)] = [0, 0, {}, 0]
                group[0] += count
                group[1] += billed
                group[3] += credits
                # JSON arrives as text (Django's loader); the same few texts recur, so each
                # is parsed into Decimals once (a bounded memo: quantities may never repeat).
                units = units_of.get((quantity, lines))
                if units is None:
                    if len(units_of) > 100_000:
                        units_of = {}
                    units = units_of[(quantity, lines)] = {}
                    event_quantity_add(units, json.loads(quantity), json.loads(lines) if lines else None)
                total = group[2]
                for unit, value in units.items():
                    total[unit] = total.get(unit, 0) + count * value
        cursor.execute("RESET enable_sort")  # the rest of the caller's transaction plans as usual
    return _rows_from(groups)


def _rows_portable(pairs, until):
    if pairs is None:
        pairs = _touched_days(None)
    rows = []
    for workspace_id, day in pairs:
        rows.extend(_day_rows(workspace_id, day, until))
    return rows


def _rows(pairs, until):
    """DailyUsage rows of `pairs` (None: every day) from the events active before `until`."""
    if connection.vendor == "postgresql":
        return _rows_pg(pairs, until)
    return _rows_portable(pairs, until)


def _insert(rows: list[Row]) -> None:
    """Insert roll-up rows; on PostgreSQL as arrays in one statement per 50,000 (the ORM's
    bulk insert spent seconds building SQL for a full run's hundreds of thousands)."""
    if connection.vendor != "postgresql":
        DailyUsage.objects.bulk_create([DailyUsage(**row._asdict()) for row in rows], batch_size=2000)
        return
    import psycopg

    sql = (
        "INSERT INTO usage_dailyusage (workspace_id, day, key_id, product, requests,"
        " billed_requests, quantity, credits_micro)"
        " SELECT w, d, k, p, r, b, q::jsonb, c FROM unnest(%b::bigint[], %b::date[], %b::bigint[],"
        " %b::text[], %b::bigint[], %b::bigint[], %b::text[], %b::bigint[]) AS t(w, d, k, p, r, b, q, c)"
    )
    connection.ensure_connection()
    for start in range(0, len(rows), 50_000):
        chunk = rows[start:start + 50_000]
        columns = [
            [r.workspace_id for r in chunk], [r.day for r in chunk], [r.key_id for r in chunk],
            [r.product for r in chunk], [r.requests for r in chunk], [r.billed_requests for r in chunk],
            [json.dumps(r.quantity) for r in chunk], [r.credits_micro for r in chunk],
        ]
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, columns, binary=True)


def _replace(pairs: Iterable[tuple[int, date]], rows: list[Row]) -> None:
    """The days `pairs` hold exactly `rows` afterwards."""
    if connection.vendor == "postgresql":
        # One statement: a DELETE per workspace took a second for a day of 1,000 workspaces.
        pairs = list(pairs)
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM usage_dailyusage d USING unnest(%s::bigint[], %s::date[]) AS t(workspace_id, day)"
                " WHERE d.workspace_id = t.workspace_id AND d.day = t.day",
                [[ws for ws, _ in pairs], [day for _, day in pairs]],
            )
        _insert(rows)
        return
    by_workspace = {}
    for workspace_id, day in pairs:
        by_workspace.setdefault(workspace_id, []).append(day)
    for workspace_id, days in sorted(by_workspace.items()):
        for chunk in range(0, len(days), 500):
            DailyUsage.objects.filter(workspace_id=workspace_id, day__in=days[chunk:chunk + 500]).delete()
    _insert(rows)


def _replace_all(rows: list[Row]) -> None:
    """Every day from the oldest event kept holds exactly `rows` afterwards; older days,
    whose events retention removed, keep theirs (an event counts on or after the day it
    was received, and retention removes whole days)."""
    oldest = UsageEvent.objects.order_by("received_at").values_list("received_at", flat=True).first()
    if oldest is not None:
        DailyUsage.objects.filter(day__gte=oldest.astimezone(dt_timezone.utc).date()).delete()
    _insert(rows)


def rollup_run(*, now: datetime | None = None, full: bool = False) -> int:
    """Roll up every day touched since the watermark (all days with full=True).

    Returns the number of (workspace, day) pairs recomputed.
    """
    now = now or timezone.now()
    with transaction.atomic():
        RollupState.objects.get_or_create(name="daily")
        # One run at a time: a second worker waits here, then finds little left to do.
        state = RollupState.objects.select_for_update().get(name="daily")
        if full or state.watermark is None:
            rows = _rows(None, now)
            _replace_all(rows)
            pairs = {(row.workspace_id, row.day) for row in rows}
        else:
            pairs = _touched_days(state.watermark - MARGIN)
            _replace(pairs, _rows(pairs, now))
        state.watermark = now
        state.last_run_at = now
        state.last_days = len(pairs)
        state.save(update_fields=["watermark", "last_run_at", "last_days"])
    return len(pairs)


def usage_purge(*, now: datetime | None = None) -> tuple[int, int]:
    """Retention (docs/design.md "Request data"): returns (events deleted, metadata cleared).

    Metadata goes when its plan's retention ends (an UPDATE, on every database); billing
    fields after 13 months, from the start of that day, once the roll-up holds them (it runs
    first, in the same task). On PostgreSQL a month's partition goes whole once its last
    row is past 13 months (usage.partitions); only the default partition is deleted from
    row by row. Event keys go after IDEMPOTENCY_DAYS.
    """
    now = now or timezone.now()
    cleared = UsageEvent.objects.filter(metadata_expires_at__lte=now).update(
        metadata=None, metadata_expires_at=None
    )
    cutoff = billing_fields_cutoff(now)
    if partitions.events_partitioned():
        deleted = partitions.partitions_drop_expired(cutoff=cutoff)
        deleted += partitions.default_partition_purge(cutoff=cutoff)
    else:
        deleted, _ = UsageEvent.objects.filter(received_at__lt=cutoff).delete()
    UsageEventKey.objects.filter(received_at__lt=_day_start(now - timedelta(days=IDEMPOTENCY_DAYS))).delete()
    return deleted, cleared


def billing_fields_cutoff(now: datetime) -> datetime:
    """Events received before this moment are gone (usage_purge) and have no receipt: 13
    months back, from the start of that UTC day."""
    return _day_start(now - BILLING_FIELDS_KEPT)


def _day_start(at: datetime) -> datetime:
    return datetime.combine(at.astimezone(dt_timezone.utc).date(), time.min, tzinfo=dt_timezone.utc)
