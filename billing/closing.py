"""Closing billing cycles: the hourly job (`close_cycles`, Celery beat) and early closes.

A close, in one transaction that holds the account's and the cycle's row locks:
  1. expire `included_remaining` (as of the cycle's end),
  2. bring a negative balance back to zero with an overage-settlement row (the debt moves
     onto the invoice),
  3. invoice what is owed and not collected elsewhere: the fee of a staff-set plan and the
     overage at USD 0.01 a credit, less volume tiers,
  4. apply a scheduled downgrade, open the next cycle and grant its included credits.
Every write is keyed by the cycle (ledger references `cycle:<id>:…`, one invoice per
cycle, one cycle per (workspace, start)) and the cycle is re-read under its lock, so a
second run, or a second worker at the same moment, does nothing. The rows the close writes
carry the boundary instant as their time, so a close that runs late books exactly what an
on-time close would. Any failing query raises and rolls the whole close back.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from billing.cycles import cycle_bounds, cycle_open
from billing.invoices import LineSpec, invoice_create
from billing.ledger import ledger_post
from billing.models import BillingAccount, BillingCycle, BillingMode, EntryKind, InvoiceStatus
from billing.money import MICRO, USD_PER_CREDIT, micro_to_credits, usd_cents
from billing.selectors import balance_before, cycle_usage_micro, included_remaining
from config.values import period

log = logging.getLogger(__name__)


class CycleCloseFailed(Exception):
    """Some due cycles could not be closed; they stay open and the next run retries them."""


@dataclass
class CloseResult:
    cycle: BillingCycle
    closed: bool  # False: it had already been closed (by an earlier run or another worker)
    expired_micro: int = 0
    settled_micro: int = 0
    invoice: object = None
    next_cycle: BillingCycle | None = None
    lines: list = field(default_factory=list)


def volume_tiers_parse(raw: object) -> list[tuple[int, Decimal]]:
    """[{"above": credits, "discount_percent": "10"}, …] → sorted [(above_micro, Decimal)].

    Raises ValueError with a sentence for staff when the terms are malformed.
    """
    tiers = []
    for item in raw or []:
        try:
            above = int(item["above"])
            percent = Decimal(str(item["discount_percent"]))
        except (KeyError, TypeError, ValueError, ArithmeticError):
            raise ValueError('Each tier needs "above" (whole credits) and "discount_percent".')
        if above < 0 or not (0 < percent <= 100):
            raise ValueError("Tiers start at 0 credits or more with a discount between 0 and 100 %.")
        tiers.append((above * MICRO, percent))
    tiers.sort()
    if len({above for above, _ in tiers}) != len(tiers):
        raise ValueError("Two tiers start at the same number of credits.")
    return tiers


def _percent(value):
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def volume_discounts(
    tiers: list[tuple[int, Decimal]], usage_micro: int, billed_micro: int,
) -> list[LineSpec]:
    """Discount lines for the billed overage, which is the last `billed_micro` of the cycle's
    usage: each part of it above a tier's threshold gets that tier's discount (the highest
    tier reached wins for each credit)."""
    low = max(0, usage_micro - billed_micro)
    high = usage_micro
    lines = []
    for n, (above, percent) in enumerate(tiers):
        upper = tiers[n + 1][0] if n + 1 < len(tiers) else None
        top = high if upper is None else min(high, upper)
        overlap = top - max(low, above)
        if overlap <= 0:
            continue
        credits = micro_to_credits(overlap)
        cents = int((credits * percent / 100).to_integral_value(rounding=ROUND_HALF_UP))
        if cents:
            lines.append(LineSpec(
                description=f"Volume discount {_percent(percent)}% on usage above {above // MICRO:,} credits",
                amount_cents=-cents, quantity=credits, unit="credit",
                unit_amount_usd=-(USD_PER_CREDIT * percent / 100),
            ))
    return lines


def _fee_cents(account, cycle):
    if account.fee_billed_by_stripe:
        return 0  # the Stripe subscription invoices its own fee
    if cycle.plan_id == account.plan_id:
        return account.fee_cents
    return 0 if cycle.plan.price_is_custom else cycle.plan.price_cents


def cycle_close_locked(
    *, account: BillingAccount, cycle: BillingCycle, boundary: datetime, now: datetime,
) -> CloseResult:
    """Close `cycle` at `boundary` (its end, or earlier for an upgrade). The caller holds the
    account's and the cycle's locks inside a transaction. Does not open the next cycle."""
    workspace_id = account.workspace_id
    if boundary < cycle.end:
        cycle.end = boundary  # an upgrade closes the cycle early
    balance_at_end = balance_before(workspace_id, moment=boundary)
    expire = included_remaining(
        workspace_id, start=cycle.start, end=boundary, balance_micro=balance_at_end
    )
    if expire:
        ledger_post(
            workspace=workspace_id, kind=EntryKind.EXPIRY, amount_micro=-expire,
            reference=f"cycle:{cycle.pk}:expiry", memo="Unused included credits expired", at=boundary,
        )
    settle = max(0, -(balance_at_end - expire))
    if settle:
        ledger_post(
            workspace=workspace_id, kind=EntryKind.OVERAGE_SETTLEMENT, amount_micro=settle,
            reference=f"cycle:{cycle.pk}:settlement", memo="Overage moved onto this cycle's invoice",
            at=boundary,
        )

    lines = []
    fee = _fee_cents(account, cycle)
    if fee:
        lines.append(LineSpec(
            description=f"{cycle.plan.name} plan, {period(cycle.start, boundary)}",
            amount_cents=fee, quantity=Decimal(1), unit="month",
            unit_amount_usd=Decimal(fee) / 100,
        ))
    if settle:
        overage_kind = "Overage" if account.may_overspend else "Usage beyond the balance"
        lines.append(LineSpec(
            description=f"{overage_kind} at USD 0.01 per credit",
            amount_cents=usd_cents(settle), quantity=micro_to_credits(settle), unit="credit",
            unit_amount_usd=USD_PER_CREDIT,
        ))
        tiers = volume_tiers_parse(account.volume_tiers)
        if tiers:
            usage = cycle_usage_micro(workspace_id, start=cycle.start, end=boundary)
            lines.extend(volume_discounts(tiers, usage, settle))
    invoice = None
    if lines:
        total = sum(line.amount_cents for line in lines)
        invoice, _ = invoice_create(
            workspace=account.workspace, lines=lines,
            status=InvoiceStatus.OPEN if total > 0 else InvoiceStatus.PAID,
            issued_on=boundary.date(), period_start=cycle.start, period_end=boundary, cycle=cycle,
        )
    cycle.closed_at = now
    cycle.save(update_fields=["end", "closed_at"])
    if invoice is not None and invoice.status == InvoiceStatus.OPEN:
        _collect_announce(account, cycle)
    return CloseResult(cycle, True, expire, settle, invoice, None, lines)


# Sent inside the close's transaction when its invoice is open and someone other than the
# customer collects it; billing.receivers enqueues the collecting job once the close commits.
cycle_invoice_opened = Signal()  # cycle_id, how: "stripe_invoice" | "card"


def _collect_announce(account: BillingAccount, cycle: BillingCycle) -> None:
    """A Stripe invoice for the overage of a subscription's cycle, or an off-session charge
    under pay-as-you-go; prepaid usage beyond the balance and staff-set fees wait for Pay now."""
    if account.fee_billed_by_stripe:
        how = "stripe_invoice"
    elif account.billing_mode == BillingMode.PAY_AS_YOU_GO:
        how = "card"
    else:
        return
    cycle_invoice_opened.send(sender=BillingCycle, cycle_id=cycle.pk, how=how)


def cycle_close(*, cycle_id: int, at: datetime | None = None) -> CloseResult:
    """Close one cycle that has ended, then open the next one. Safe to run twice."""
    at = at or timezone.now()
    with transaction.atomic():
        workspace_id = BillingCycle.objects.values_list("workspace_id", flat=True).get(pk=cycle_id)
        # Lock order everywhere: the account, then the cycle (plan changes do the same).
        account = (
            BillingAccount.objects.select_for_update(of=("self",))
            .select_related("plan", "scheduled_plan", "workspace")
            .get(workspace_id=workspace_id)
        )
        cycle = BillingCycle.objects.select_for_update(of=("self",)).select_related("plan").get(pk=cycle_id)
        if cycle.closed_at is not None:
            return CloseResult(cycle, False)
        if cycle.end > at:
            raise ValueError(f"Cycle {cycle_id} ends at {cycle.end:%Y-%m-%d %H:%M}, after {at:%Y-%m-%d %H:%M}.")
        result = cycle_close_locked(account=account, cycle=cycle, boundary=cycle.end, now=at)
        if account.scheduled_plan_id:
            account.plan = account.scheduled_plan
            account.scheduled_plan = None
            if not account.plan.price_cents:  # a subscription cancelled at the period's end
                account.fee_billed_by_stripe = account.payment_past_due = False
            if account.billing_mode != BillingMode.PAY_AS_YOU_GO or account.plan.overage_allowed:
                account.overage_limit = account.plan.default_overage_limit
            account.save()
        start = cycle.end
        result.next_cycle = cycle_open(
            account=account, start=start, end=cycle_bounds(account.cycle_anchor_day, start)[1]
        )
        return result


def _due(at, workspace_id=None, skip=()):
    rows = BillingCycle.objects.filter(closed_at__isnull=True, end__lte=at).exclude(pk__in=skip)
    if workspace_id is not None:
        rows = rows.filter(workspace_id=workspace_id)
    return list(rows.order_by("end", "pk").values_list("pk", flat=True)[:500])


def cycles_close_due(*, at: datetime | None = None, workspace_id: int | None = None) -> list[CloseResult]:
    """Close every cycle that has ended by `at` (a workspace many cycles behind catches up
    one cycle at a time). Each cycle closes in its own transaction; failures are logged,
    the rest still close, and CycleCloseFailed is raised at the end so the job retries."""
    at = at or timezone.now()
    results, failures, seen = [], [], set()
    while True:
        ids = _due(at, workspace_id, seen)
        if not ids:
            break
        for cycle_id in ids:
            seen.add(cycle_id)
            try:
                result = cycle_close(cycle_id=cycle_id, at=at)
            except Exception as error:  # noqa: BLE001 - every failure is reported below
                log.exception("closing billing cycle %s failed", cycle_id)
                failures.append((cycle_id, error))
                continue
            if result.closed:
                results.append(result)
    if failures:
        names = ", ".join(f"cycle {cid}: {error}" for cid, error in failures)
        raise CycleCloseFailed(f"{len(failures)} cycle(s) not closed ({names}); they will be retried.")
    return results
