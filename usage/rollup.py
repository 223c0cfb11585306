"""The daily roll-up: usage events -> DailyUsage rows per (workspace, day, key, product).

Incremental and idempotent. Each run recomputes, from the events, every (workspace, day)
that an event touched since the last run's watermark (minus a margin for transactions
that were still open), replacing that day's rows. Re-running over the same days gives the
same rows; a late event for an old day moves its `touched_at` and so its day is redone.
The whole run is one transaction: a failing query raises and writes nothing (no zeros).
"""

from datetime import datetime, time, timedelta, timezone as dt_timezone
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from pricing.events import decimal_text
from usage.models import DailyUsage, RollupState, UsageEvent

# Transactions that began before a run may commit after it; their events carry an earlier
# touched_at. Looking back this far covers any request that takes less than it.
MARGIN = timedelta(minutes=5)
BILLING_FIELDS_KEPT = relativedelta(months=13)
QUALIFIERS = ("machine", "instance")


def _touched_days(since):
    events = UsageEvent.objects.all()
    if since is not None:
        events = events.filter(touched_at__gte=since)
    pairs = set(
        events.annotate(day=TruncDate(Coalesce("charged_at", "received_at")))
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


def _day_bounds(day):
    start = datetime.combine(day, time.min, tzinfo=dt_timezone.utc)
    return start, start + timedelta(days=1)


def quantity_add(total: dict[str, Decimal], quantity: dict | None) -> None:
    """Add one quantity dict of decimal strings into `total` (Decimals); qualifiers skipped."""
    for unit, value in (quantity or {}).items():
        if unit in QUALIFIERS:
            continue
        total[unit] = total.get(unit, Decimal(0)) + Decimal(str(value))


def quantity_text(total: dict[str, Decimal]) -> dict[str, str]:
    return {unit: decimal_text(value) for unit, value in sorted(total.items())}


def _day_rows(workspace_id, day):
    start, end = _day_bounds(day)
    events = UsageEvent.objects.filter(workspace_id=workspace_id).filter(
        Q(charged_at__gte=start, charged_at__lt=end)
        | Q(charged_at__isnull=True, received_at__gte=start, received_at__lt=end)
    )
    groups = {}
    for key_id, product, quantity, lines, charged, billed in events.values_list(
        "key_id", "product", "quantity", "lines", "charged_micro", "billed"
    ).iterator(chunk_size=5000):
        group = groups.setdefault((key_id, product), [0, 0, {}, 0])
        group[0] += 1
        group[1] += 1 if billed else 0
        quantity_add(group[2], quantity)
        for line in lines or ():
            quantity_add(group[2], line.get("quantity"))
        group[3] += charged
    return [
        DailyUsage(
            workspace_id=workspace_id, day=day, key_id=key_id, product=product,
            requests=requests, billed_requests=billed, quantity=quantity_text(quantity),
            credits_micro=credits,
        )
        for (key_id, product), (requests, billed, quantity, credits) in sorted(
            groups.items(), key=lambda item: (item[0][0] or 0, item[0][1])
        )
    ]


def rollup_run(*, now: datetime | None = None, full: bool = False) -> int:
    """Roll up every day touched since the watermark (all days with full=True).

    Returns the number of (workspace, day) pairs recomputed.
    """
    now = now or timezone.now()
    with transaction.atomic():
        RollupState.objects.get_or_create(name="daily")
        # One run at a time: a second worker waits here, then finds little left to do.
        state = RollupState.objects.select_for_update().get(name="daily")
        since = None if full or state.watermark is None else state.watermark - MARGIN
        pairs = _touched_days(since)
        for workspace_id, day in pairs:
            rows = _day_rows(workspace_id, day)
            DailyUsage.objects.filter(workspace_id=workspace_id, day=day).delete()
            DailyUsage.objects.bulk_create(rows)
        state.watermark = now
        state.last_run_at = now
        state.last_days = len(pairs)
        state.save(update_fields=["watermark", "last_run_at", "last_days"])
    return len(pairs)


def usage_purge(*, now: datetime | None = None) -> tuple[int, int]:
    """Retention (docs/design.md "Request data"): returns (events deleted, metadata cleared).

    Metadata goes when its plan's retention ends; billing fields after 13 months, from the
    start of that day, once the roll-up holds them (it runs first, in the same task).
    """
    now = now or timezone.now()
    cleared = UsageEvent.objects.filter(metadata_expires_at__lte=now).update(
        metadata=None, metadata_expires_at=None
    )
    cutoff = datetime.combine((now - BILLING_FIELDS_KEPT).date(), time.min, tzinfo=dt_timezone.utc)
    deleted, _ = UsageEvent.objects.filter(received_at__lt=cutoff).delete()
    return deleted, cleared
