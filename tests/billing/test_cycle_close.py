"""Closing billing cycles: docs/design.md "Credits over a cycle"; jobs safe to run twice."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError

from billing import closing
from billing.closing import CycleCloseFailed, cycles_close_due
from billing.models import BillingAccount, BillingCycle, EntryKind, Invoice, LedgerEntry, Plan
from billing.selectors import balance_payload
from billing.services import downgrade_cancel, plan_change
from tests.billing.helpers import MICRO, balance, buy, charge, start_on, utc

pytestmark = pytest.mark.django_db


def cycles(workspace):
    return list(BillingCycle.objects.filter(workspace=workspace).order_by("start").values_list("start", "end"))


def test_pro_cycle_expires_included_and_grants_the_next(workspace):
    start_on(workspace, plan="pro", anchor_day=5, start=utc(2026, 1, 5))
    charge(workspace, 30_000, "u1", at=utc(2026, 1, 20))
    buy(workspace, 500, "p1", at=utc(2026, 1, 21))
    assert balance(workspace) == (100_000 - 30_000 + 500) * MICRO

    [result] = cycles_close_due(at=utc(2026, 2, 5, 0, 5))

    assert result.expired_micro == 70_000 * MICRO
    # purchased credits survive; the next cycle's 100,000 arrive
    assert balance(workspace) == (500 + 100_000) * MICRO
    invoice = Invoice.objects.get(workspace=workspace)
    assert invoice.total_cents == 79_900  # the staff-set plan's fee, no overage
    assert invoice.status == "open"
    payload = balance_payload(workspace, at=utc(2026, 2, 6))
    assert payload["included_remaining"] == "100000.000000"
    assert payload["cycle_start"] == "2026-02-05T00:00:00Z"
    assert payload["cycle_end"] == "2026-03-05T00:00:00Z"


def test_closing_twice_changes_nothing_the_second_time(workspace):
    start_on(workspace, plan="pro", anchor_day=1, start=utc(2026, 3, 1))
    charge(workspace, 120_000, "u1", at=utc(2026, 3, 10))
    first = cycles_close_due(at=utc(2026, 4, 1, 1))
    rows = LedgerEntry.objects.filter(workspace=workspace).count()
    money = balance(workspace)

    assert cycles_close_due(at=utc(2026, 4, 1, 1)) == []
    call_command("close_cycles", "--at", "2026-04-01T01:00:00Z")

    assert len(first) == 1
    assert LedgerEntry.objects.filter(workspace=workspace).count() == rows
    assert balance(workspace) == money
    assert Invoice.objects.filter(workspace=workspace).count() == 1
    assert BillingCycle.objects.filter(workspace=workspace).count() == 2


def test_pro_overage_is_settled_and_invoiced(workspace):
    start_on(workspace, plan="pro", anchor_day=1, start=utc(2026, 3, 1))
    charge(workspace, 112_345.5, "u1", at=utc(2026, 3, 31, 23, 59))
    assert balance_payload(workspace, at=utc(2026, 3, 31, 23, 59, 30))["overage"] == "12345.500000"

    [result] = cycles_close_due(at=utc(2026, 4, 1))

    assert result.settled_micro == 12_345_500_000
    settlement = LedgerEntry.objects.get(reference=f"cycle:{result.cycle.pk}:settlement")
    assert settlement.kind == EntryKind.OVERAGE_SETTLEMENT
    invoice = result.invoice
    amounts = [line.amount_cents for line in invoice.lines.all()]
    assert amounts == [79_900, 12_346]  # fee, then 12,345.5 credits = USD 123.455 → 123.46
    assert invoice.total_cents == 92_246
    # debt moved onto the invoice: the new cycle starts at exactly its included credits
    assert balance(workspace) == 100_000 * MICRO


def test_usage_after_the_cycle_end_belongs_to_the_next_cycle(workspace):
    start_on(workspace, plan="pro", anchor_day=1, start=utc(2026, 3, 1))
    charge(workspace, 10_000, "before", at=utc(2026, 3, 20))
    charge(workspace, 2_000, "after-end-before-job", at=utc(2026, 4, 1, 0, 3))

    [result] = cycles_close_due(at=utc(2026, 4, 1, 0, 5))

    assert result.expired_micro == 90_000 * MICRO
    assert balance_payload(workspace, at=utc(2026, 4, 2))["included_remaining"] == "98000.000000"


def test_pay_as_you_go_overage_is_invoiced_without_a_fee(workspace):
    start_on(workspace, plan="starter", anchor_day=1, start=utc(2026, 3, 1), billing_mode="pay_as_you_go",
             overage_limit=5_000)
    buy(workspace, 100, "bonus", at=utc(2026, 3, 1, 1))
    charge(workspace, 350, "u1", at=utc(2026, 3, 15))
    assert balance_payload(workspace, at=utc(2026, 3, 16))["overage_limit"] == "5000.000000"

    [result] = cycles_close_due(at=utc(2026, 4, 1))

    assert [(l.description, l.amount_cents) for l in result.invoice.lines.all()] == [
        ("Overage at USD 0.01 per credit", 250)
    ]
    assert balance(workspace) == 0


def test_prepaid_negative_balance_is_settled_onto_the_invoice(workspace):
    start_on(workspace, plan="starter", anchor_day=1, start=utc(2026, 3, 1))
    buy(workspace, 10, "p1", at=utc(2026, 3, 2))
    charge(workspace, 13, "u1", at=utc(2026, 3, 3))  # the last request ran past zero

    [result] = cycles_close_due(at=utc(2026, 4, 1))

    assert result.invoice.total_cents == 3
    assert balance(workspace) == 0


def test_nothing_owed_means_no_invoice(workspace):
    start_on(workspace, plan="starter", anchor_day=1, start=utc(2026, 3, 1))
    buy(workspace, 100, "p1", at=utc(2026, 3, 2))
    cycles_close_due(at=utc(2026, 4, 1))
    assert not Invoice.objects.filter(workspace=workspace).exists()
    assert balance(workspace) == 100 * MICRO


def test_volume_tiers_discount_the_overage_above_each_threshold(workspace):
    start_on(
        workspace, plan="enterprise", anchor_day=1, start=utc(2026, 3, 1),
        custom_fee_cents=500_000, custom_included_credits=0, overage_limit=None,
        volume_tiers=[{"above": 1_000_000, "discount_percent": "10"},
                      {"above": 2_000_000, "discount_percent": "20"}],
    )
    charge(workspace, 2_500_000, "u1", at=utc(2026, 3, 10))

    [result] = cycles_close_due(at=utc(2026, 4, 1))

    lines = [(l.description, l.amount_cents) for l in result.invoice.lines.all()]
    assert lines == [
        ("Enterprise plan, 1 Mar – 31 Mar 2026", 500_000),  # the cycle's last day, not the next one's first
        ("Overage at USD 0.01 per credit", 2_500_000),
        ("Volume discount 10% on usage above 1,000,000 credits", -100_000),  # 1M credits × 10%
        ("Volume discount 20% on usage above 2,000,000 credits", -100_000),  # 0.5M × 20%
    ]
    assert result.invoice.total_cents == 500_000 + 2_500_000 - 200_000
    assert result.invoice.discount_cents == -200_000


def test_scheduled_downgrade_applies_at_the_cycle_end(workspace, owner):
    start_on(workspace, plan="pro", anchor_day=10, start=utc(2026, 5, 10))
    result = plan_change(workspace=workspace, plan=Plan.objects.get(code="starter"), actor=owner,
                         now=utc(2026, 5, 20))
    assert result.kind == "scheduled" and result.effective_at == utc(2026, 6, 10)
    assert BillingAccount.objects.get(workspace=workspace).plan.code == "pro"

    cycles_close_due(at=utc(2026, 6, 10, 0, 5))

    account = BillingAccount.objects.get(workspace=workspace)
    assert account.plan.code == "starter" and account.scheduled_plan is None
    assert balance(workspace) == 0  # included expired, starter grants none
    assert BillingCycle.objects.get(workspace=workspace, start=utc(2026, 6, 10)).plan.code == "starter"


def test_a_cancelled_downgrade_does_not_happen(workspace, owner):
    start_on(workspace, plan="pro", anchor_day=10, start=utc(2026, 5, 10))
    plan_change(workspace=workspace, plan=Plan.objects.get(code="starter"), actor=owner, now=utc(2026, 5, 20))
    downgrade_cancel(workspace=workspace, actor=owner)
    cycles_close_due(at=utc(2026, 6, 10, 0, 5))
    assert BillingAccount.objects.get(workspace=workspace).plan.code == "pro"
    assert balance(workspace) == 100_000 * MICRO


def test_upgrade_closes_the_cycle_early_and_starts_a_new_one(workspace, admin_user):
    start_on(workspace, plan="starter", anchor_day=3, start=utc(2026, 5, 3))
    buy(workspace, 40, "p1", at=utc(2026, 5, 4))
    charge(workspace, 60, "u1", at=utc(2026, 5, 5))  # 20 below zero
    at = utc(2026, 5, 17, 14, 30)

    result = plan_change(workspace=workspace, plan=Plan.objects.get(code="pro"), actor=admin_user,
                         by_staff=True, now=at)

    assert result.kind == "upgraded"
    old, new = BillingCycle.objects.filter(workspace=workspace).order_by("start")
    assert (old.end, old.closed_at) == (at, at)
    assert (new.start, new.end, new.plan.code) == (at, utc(2026, 6, 17), "pro")
    assert Invoice.objects.get(cycle=old).total_cents == 20  # the starter cycle's debt
    assert balance(workspace) == 100_000 * MICRO
    assert BillingAccount.objects.get(workspace=workspace).cycle_anchor_day == 17


@pytest.mark.parametrize("start, closes", [
    # anchor 31 through February and back
    (utc(2027, 1, 31), [utc(2027, 2, 28), utc(2027, 3, 31), utc(2027, 4, 30), utc(2027, 5, 31)]),
    # a leap year: Feb 29
    (utc(2028, 1, 31), [utc(2028, 2, 29), utc(2028, 3, 31)]),
    # year end
    (utc(2026, 11, 30), [utc(2026, 12, 31), utc(2027, 1, 31), utc(2027, 2, 28)]),
])
def test_cycles_follow_anchor_31_across_month_ends(workspace, start, closes):
    start_on(workspace, plan="pro", anchor_day=31, start=start)
    for n, end in enumerate(closes):
        charge(workspace, 1_000, f"u{n}", at=end - timedelta(minutes=1))
        cycles_close_due(at=end)
    bounds = cycles(workspace)
    assert [s for s, _ in bounds] == [start, *closes]
    assert [e for _, e in bounds[:-1]] == closes
    # every cycle granted its included credits exactly once
    grants = LedgerEntry.objects.filter(workspace=workspace, kind=EntryKind.INCLUDED_GRANT).count()
    assert grants == len(closes) + 1
    assert balance(workspace) == 100_000 * MICRO


def test_a_job_far_behind_closes_each_missed_cycle(workspace):
    start_on(workspace, plan="pro", anchor_day=1, start=utc(2026, 1, 1))
    results = cycles_close_due(at=utc(2026, 4, 1, 0, 5))
    assert [r.cycle.start for r in results] == [utc(2026, 1, 1), utc(2026, 2, 1), utc(2026, 3, 1)]
    assert Invoice.objects.filter(workspace=workspace).count() == 3
    assert balance(workspace) == 100_000 * MICRO


def test_a_failing_query_grants_and_invoices_nothing(workspace, monkeypatch):
    start_on(workspace, plan="pro", anchor_day=1, start=utc(2026, 3, 1))
    charge(workspace, 150_000, "u1", at=utc(2026, 3, 2))
    before = (balance(workspace), LedgerEntry.objects.count())

    def broken(*args, **kwargs):
        raise OperationalError("the database went away")

    monkeypatch.setattr(closing, "balance_before", broken)
    with pytest.raises(CycleCloseFailed):
        cycles_close_due(at=utc(2026, 4, 1))
    with pytest.raises(CommandError):
        call_command("close_cycles", "--at", "2026-04-01T00:00:00Z")

    assert (balance(workspace), LedgerEntry.objects.count()) == before
    assert not Invoice.objects.exists()
    assert BillingCycle.objects.get(workspace=workspace).closed_at is None

    monkeypatch.undo()
    [result] = cycles_close_due(at=utc(2026, 4, 1))  # the retry closes it properly
    assert result.invoice.total_cents == 79_900 + 50_000


def test_the_celery_task_closes_due_cycles(workspace, settings):
    from billing.tasks import close_due_cycles as task

    start_on(workspace, plan="pro", anchor_day=1, start=utc(2020, 1, 1))
    task.delay()
    assert BillingCycle.objects.filter(workspace=workspace, closed_at__isnull=True).count() == 1
    task.delay()  # twice: nothing more
    assert BillingCycle.objects.filter(workspace=workspace, closed_at__isnull=True).count() == 1
