"""Billing cycles: UTC months starting on an anchor day clamped to the month's end.

Their arithmetic, the cycle a workspace is in (key spends are counted per cycle), and
opening one with its included credits. Closing one is billing.closing's business.
"""

import calendar
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone

from django.utils import timezone

from billing.ledger import ledger_post
from billing.models import BillingAccount, BillingCycle, EntryKind
from billing.money import MICRO
from config.ttlcache import TtlCache


def _anchor_in(year, month, anchor_day):
    last = calendar.monthrange(year, month)[1]
    return datetime(year, month, min(anchor_day, last), tzinfo=dt_timezone.utc)


def _next_month(year, month):
    return (year + 1, 1) if month == 12 else (year, month + 1)


def _previous_month(year, month):
    return (year - 1, 12) if month == 1 else (year, month - 1)


def cycle_bounds(anchor_day: int, at: datetime) -> tuple[datetime, datetime]:
    """The [start, end) of the cycle that contains `at`."""
    at = at.astimezone(dt_timezone.utc)
    start = _anchor_in(at.year, at.month, anchor_day)
    if start > at:
        start = _anchor_in(*_previous_month(at.year, at.month), anchor_day)
    return start, _anchor_in(*_next_month(start.year, start.month), anchor_day)


def cycle_open(*, account: BillingAccount, start: datetime, end: datetime) -> BillingCycle:
    """The cycle [start, end) on the account's current plan, with its included credits.

    Idempotent: the (workspace, start) constraint and the grant's reference make a second
    call return the same cycle and grant nothing more.
    """
    cycle, _ = BillingCycle.objects.get_or_create(
        workspace_id=account.workspace_id, start=start,
        defaults={"end": end, "plan": account.plan},
    )
    included = account.included_credits
    # A plan whose fee Stripe bills grants when Stripe reports the invoice paid (invoice.paid).
    if included and not account.fee_billed_by_stripe:
        # Dated at the cycle's start, so a late close grants into the right cycle.
        ledger_post(
            workspace=account.workspace_id, kind=EntryKind.INCLUDED_GRANT,
            amount_micro=included * MICRO, reference=f"cycle:{cycle.pk}:grant",
            memo=f"{account.plan.name}: included credits for this cycle", at=cycle.start,
        )
    return cycle


@dataclass(frozen=True)
class CycleWindow:
    start: datetime
    end: datetime
    cycle: BillingCycle | None  # None: the close job has not opened this cycle's row yet


def cycle_current(
    workspace_id: int, *, at: datetime | None = None, account: BillingAccount | None = None,
) -> CycleWindow:
    """The cycle containing `at` (default now): its open row, else the bounds the anchor gives."""
    at = at or timezone.now()
    cycle = (
        BillingCycle.objects.filter(workspace_id=workspace_id, start__lte=at, end__gt=at)
        .order_by("-start")
        .first()
    )
    if cycle is not None:
        return CycleWindow(cycle.start, cycle.end, cycle)
    if account is None:
        account = BillingAccount.objects.get(workspace_id=workspace_id)
    start, end = cycle_bounds(account.cycle_anchor_day, at)
    return CycleWindow(start, end, None)


def cycle_start(workspace_id: int, *, at: datetime | None = None) -> datetime:
    """Start of the workspace's current billing cycle: key spends are counted per cycle."""
    return cycle_current(workspace_id, at=at).start


# The usage call's hot path asks for this on every charge.
_cycle_windows = TtlCache(ttl_seconds=60, max_entries=100_000)


def cycle_start_cached(workspace_id: int, *, at: datetime | None = None) -> datetime:
    """cycle_start at `at` (default now), the current cycle's bounds remembered a minute per
    process.

    A charge dated inside the remembered cycle needs no query; one dated elsewhere (a
    back-dated charge such as the demo's history, or a cycle that just ended) asks the
    database, so key spends always land in the cycle of the charge's own time. A cycle
    that closes early (an upgrade) is seen within a minute.
    """
    moment = at or timezone.now()
    window = _cycle_windows.get(workspace_id, load=lambda: cycle_current(workspace_id))
    if window.start <= moment < window.end:
        return window.start
    return cycle_start(workspace_id, at=moment)
