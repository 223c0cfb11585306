"""Reads of billing state that other apps need (authorize, the balance API, pages)."""

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone as dt_timezone

from django.db import connection
from django.db.models import Q, Sum

from billing.cycles import CycleWindow, cycle_current
from billing.ledger import workspace_balance
from billing.models import (
    AutoRecharge, BalanceShard, BillingAccount, EntryKind, LedgerEntry, SavedCard, UsageDayTotal,
)
from billing.money import MICRO, format_credits
from teams.models import Workspace


@dataclass(frozen=True)
class SpendState:
    plan_code: str
    requests_per_minute: int | None  # None: no rate limit
    balance_micro: int
    refusal: str | None  # None, "out_of_credits" or "spend_limit_reached"


def spend_refusal(account: BillingAccount, *, balance_micro: int) -> str | None:
    """The one "may this workspace spend?" rule: None when it may, else the error code.

    Prepaid workspaces may spend while their balance is above zero. Workspaces that may
    overspend (pro, enterprise, pay-as-you-go) may go below zero down to their overage limit.
    """
    if not account.may_overspend:
        return None if balance_micro > 0 else "out_of_credits"
    limit = account.effective_overage_limit
    if limit is None:
        return None
    return None if balance_micro > -limit * MICRO else "spend_limit_reached"


def spend_state(workspace_id: int) -> SpendState:
    account = BillingAccount.objects.select_related("plan").get(workspace_id=workspace_id)
    balance = workspace_balance(workspace_id)
    return SpendState(
        plan_code=account.plan.code,
        requests_per_minute=account.requests_per_minute,
        balance_micro=balance,
        refusal=spend_refusal(account, balance_micro=balance),
    )


def workspace_has_saved_card(workspace: Workspace) -> bool:
    """Whether a card is on file (saved through Checkout, billing.cards): pay-as-you-go,
    paid plans and auto-recharge charge it."""
    return SavedCard.objects.filter(workspace_id=getattr(workspace, "pk", workspace), removed_at__isnull=True).exists()


def _sum(queryset):
    return queryset.aggregate(s=Sum("amount_micro"))["s"] or 0


def _day_start(day):
    return datetime.combine(day, time.min, tzinfo=dt_timezone.utc)


def usage_charged_micro(workspace_id: int, *, start: datetime, end: datetime) -> int:
    """Usage charged in [start, end) (positive micro-credits), without reading the period's
    charges: whole UTC days from their totals (UsageDayTotal, written with each charge), and
    only the part-days at either end (a cycle an upgrade started mid-day) from the ledger."""
    first = start.astimezone(dt_timezone.utc).date()
    if _day_start(first) < start:
        first += timedelta(days=1)
    after = end.astimezone(dt_timezone.utc).date()  # the first day not whole inside [start, end)
    if first >= after:
        return -_sum(LedgerEntry.objects.filter(
            workspace_id=workspace_id, kind=EntryKind.USAGE, created_at__gte=start, created_at__lt=end,
        ))
    whole = UsageDayTotal.objects.filter(workspace_id=workspace_id, day__gte=first, day__lt=after).aggregate(
        s=Sum("charged_micro"))["s"] or 0
    parts = LedgerEntry.objects.filter(workspace_id=workspace_id, kind=EntryKind.USAGE).filter(
        Q(created_at__gte=start, created_at__lt=_day_start(first))
        | Q(created_at__gte=_day_start(after), created_at__lt=end)
    )
    has_parts = start < _day_start(first) or _day_start(after) < end
    return whole - (_sum(parts) if has_parts else 0)


def _credits_in(workspace_id, start, end):
    """(included granted, usage refunded) in [start, end): the few rows that are not usage
    charges, through the ledger's index of those (ledger_ws_not_usage).

    Refunds that give credits back (positive REFUND rows) are usage refunds; a refunded
    purchase is a negative REFUND row and does not touch the included credits."""
    rows = (
        LedgerEntry.objects.exclude(kind=EntryKind.USAGE)
        .filter(workspace_id=workspace_id, created_at__gte=start, created_at__lt=end)
        .filter(Q(kind=EntryKind.INCLUDED_GRANT) | Q(kind=EntryKind.REFUND, amount_micro__gt=0))
        .values("kind").annotate(s=Sum("amount_micro")).order_by()
    )
    sums = {row["kind"]: row["s"] or 0 for row in rows}
    return sums.get(EntryKind.INCLUDED_GRANT, 0), sums.get(EntryKind.REFUND, 0)


def cycle_included_raw(workspace_id: int, *, start: datetime, end: datetime) -> int:
    """Included granted − usage charged + usage refunded, over rows written in [start, end)."""
    granted, refunded = _credits_in(workspace_id, start, end)
    return granted - usage_charged_micro(workspace_id, start=start, end=end) + refunded


def cycle_usage_micro(workspace_id: int, *, start: datetime, end: datetime) -> int:
    """Net usage charged in [start, end) (positive micro-credits): charges less usage refunds."""
    _granted, refunded = _credits_in(workspace_id, start, end)
    return max(0, usage_charged_micro(workspace_id, start=start, end=end) - refunded)


def included_remaining(
    workspace_id: int, *, start: datetime, end: datetime, balance_micro: int,
) -> int:
    """max(0, included granted − usage + usage refunded), never above the balance (docs/design.md)."""
    raw = cycle_included_raw(workspace_id, start=start, end=end)
    return max(0, min(raw, balance_micro))


def balance_before(workspace_id: int, *, moment: datetime) -> int:
    """The ledger's sum over rows written before `moment` (the balance at a cycle's end):
    the balance less what was written since, in one statement (one snapshot), so a close
    soon after its cycle's end reads a few rows, not the workspace's whole ledger."""
    shards = BalanceShard._meta.db_table
    ledger = LedgerEntry._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT COALESCE(SUM(balance_micro), 0) FROM {shards} WHERE workspace_id = %s)"
            f" - (SELECT COALESCE(SUM(amount_micro), 0) FROM {ledger}"
            "     WHERE workspace_id = %s AND created_at >= %s)",
            [workspace_id, workspace_id, connection.ops.adapt_datetimefield_value(moment)],
        )
        return int(cursor.fetchone()[0])


@dataclass(frozen=True)
class CycleUsage:
    window: CycleWindow  # the bounds every "this cycle" figure uses
    used_micro: int  # usage charged in the cycle so far, less usage refunded (positive)


def cycle_usage(
    workspace_id: int, *, at: datetime | None = None, account: BillingAccount | None = None,
) -> CycleUsage:
    """The one "this cycle" figure: the bounds of the cycle containing `at` (default now) and
    the credits used in it (charges less usage refunds), from the day totals written with
    each charge, so a charge counts at once and a busy cycle costs a few rows.

    The dashboard's "Used this cycle", the API Keys page (its per-key credits are kept
    per these bounds), the Usage page's current cycle and the Billing page all come from
    here (docs/design.md "Credits over a cycle").
    """
    window = cycle_current(workspace_id, at=at, account=account)
    return CycleUsage(window, cycle_usage_micro(workspace_id, start=window.start, end=window.end))


@dataclass(frozen=True)
class BalanceSummary:
    account: BillingAccount
    balance_micro: int
    included_remaining_micro: int
    other_micro: int  # bonus and purchased credits: the part of the balance that never expires
    overage_micro: int  # credits below zero this cycle
    overage_limit: int | None  # credits; None where no limit applies
    cycle: CycleWindow
    cycle_used_micro: int  # cycle_usage's figure: credits used this cycle


def balance_summary(workspace: Workspace, *, at: datetime | None = None) -> BalanceSummary:
    account = BillingAccount.objects.select_related("plan", "scheduled_plan").get(
        workspace_id=workspace.pk
    )
    balance = workspace_balance(workspace.pk)
    usage = cycle_usage(workspace.pk, at=at, account=account)
    window = usage.window
    included = included_remaining(workspace.pk, start=window.start, end=window.end, balance_micro=balance)
    return BalanceSummary(
        account=account,
        balance_micro=balance,
        included_remaining_micro=included,
        other_micro=max(0, balance - included),
        overage_micro=max(0, -balance),
        overage_limit=account.effective_overage_limit,
        cycle=window,
        cycle_used_micro=usage.used_micro,
    )


def _iso(moment):
    return moment.astimezone(dt_timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def auto_recharge_payload(workspace: Workspace) -> dict:
    """The balance API's `auto_recharge` object: whole credits as strings, null when never set."""
    settings = AutoRecharge.objects.filter(workspace_id=workspace.pk).first()
    if settings is None:
        return {"enabled": False, "threshold": None, "amount": None}
    return {
        "enabled": settings.enabled,
        "threshold": str(settings.threshold_credits),
        "amount": str(settings.amount_credits),
    }


def balance_payload(
    workspace: Workspace, *, at: datetime | None = None, summary: BalanceSummary | None = None,
) -> dict:
    """The JSON of docs/api.md's `GET /api/v1/balance` but its `forecast`, which usage adds
    (usage.forecast.balance_with_forecast) from its roll-ups. `summary`: one already read."""
    summary = summary or balance_summary(workspace, at=at)
    account = summary.account
    return {
        "workspace": workspace.slug,
        "plan": account.plan.code,
        "billing_mode": account.billing_mode,
        "balance": format_credits(summary.balance_micro),
        "included_remaining": format_credits(summary.included_remaining_micro),
        "overage": format_credits(summary.overage_micro),
        "overage_limit": (
            None if summary.overage_limit is None else format_credits(summary.overage_limit * MICRO)
        ),
        "cycle_start": _iso(summary.cycle.start),
        "cycle_end": _iso(summary.cycle.end),
        "auto_recharge": auto_recharge_payload(workspace),
    }


def ledger_recent(workspace: Workspace, *, limit: int = 25) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(workspace=workspace).order_by("-created_at", "-id")[:limit])


def metadata_retention_days(*, workspace_ids) -> dict[int, int]:
    """{workspace id: days its plan keeps request metadata (0: never stored)}, read now.

    Never cached: a move to a zero-retention plan applies to the very next request.
    """
    rows = BillingAccount.objects.filter(workspace_id__in=set(workspace_ids)).values_list(
        "workspace_id", "plan__metadata_retention_days"
    )
    found = dict(rows)
    return {ws: found.get(ws) or 0 for ws in workspace_ids}


def metadata_retention_sql(*, workspace_id: str) -> str:
    """PostgreSQL: metadata_retention_days of the workspace `workspace_id` (an SQL
    expression) as a scalar subquery, read in the writing statement's own snapshot."""
    return (
        "COALESCE((SELECT p.metadata_retention_days FROM billing_billingaccount a"
        " JOIN billing_plan p ON p.id = a.plan_id"
        f" WHERE a.workspace_id = {workspace_id}), 0)"
    )
