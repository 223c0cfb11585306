"""Usage per (workspace, UTC day), written with each charge: what "this cycle" sums instead
of the cycle's ledger rows (the included credits left, the pages' figure, a cycle's close)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from billing.ledger import Charge, credits_charge_many
from billing.models import EntryKind, LedgerEntry, UsageDayTotal
from billing.selectors import (
    balance_before,
    balance_summary,
    cycle_included_raw,
    cycle_usage,
    cycle_usage_micro,
)
from tests.billing.helpers import MICRO, charge, start_on, utc

pytestmark = pytest.mark.django_db


def _ledger(workspace, start, end, kinds):
    rows = LedgerEntry.objects.filter(workspace=workspace, created_at__gte=start, created_at__lt=end, kind__in=kinds)
    return rows.aggregate(s=Sum("amount_micro"))["s"] or 0


def _history(workspace):
    """Charges on both sides of midnights, through both ways in (one and many), a usage
    refund and a purchase refund."""
    charge(workspace, 5, "u1", at=utc(2026, 3, 5, 0, 0))
    charge(workspace, 7, "u2", at=utc(2026, 3, 9, 23, 59, 59))
    charge(workspace, 11, "u3", at=utc(2026, 3, 10, 0, 0, 1))
    credits_charge_many(charges=[
        Charge(workspace.pk, 13 * MICRO, "m1", "", utc(2026, 3, 10, 12)),
        Charge(workspace.pk, 17 * MICRO, "m2", "", utc(2026, 3, 10, 18)),
        Charge(workspace.pk, 19 * MICRO, "m3", "", utc(2026, 3, 11, 6)),
        Charge(workspace.pk, 23 * MICRO, "m4", "", utc(2026, 4, 5, 6)),  # the next cycle
    ])
    from billing.ledger import ledger_post

    ledger_post(workspace=workspace, kind=EntryKind.REFUND, amount_micro=3 * MICRO, reference="r1", at=utc(2026, 3, 10, 20))
    ledger_post(workspace=workspace, kind=EntryKind.REFUND, amount_micro=-2 * MICRO, reference="r2", at=utc(2026, 3, 10, 21))


@pytest.mark.parametrize("start, end", [
    (utc(2026, 3, 5), utc(2026, 4, 5)),  # a whole cycle
    (utc(2026, 3, 5), utc(2026, 3, 10, 12, 30)),  # closed early by an upgrade, mid-day
    (utc(2026, 3, 10, 12, 30), utc(2026, 4, 10, 12, 30)),  # the cycle the upgrade opened
    (utc(2026, 3, 10, 6), utc(2026, 3, 10, 19)),  # within one day
    (utc(2026, 3, 9, 23, 59, 59), utc(2026, 3, 10, 0, 0, 1)),  # across one midnight
])
def test_cycle_figures_equal_the_ledger_for_any_bounds(workspace, start, end):
    start_on(workspace, plan="pro", anchor_day=5, start=utc(2026, 3, 5))
    _history(workspace)
    usage = _ledger(workspace, start, end, [EntryKind.USAGE])
    refunded = LedgerEntry.objects.filter(
        workspace=workspace, kind=EntryKind.REFUND, amount_micro__gt=0, created_at__gte=start, created_at__lt=end,
    ).aggregate(s=Sum("amount_micro"))["s"] or 0
    granted = _ledger(workspace, start, end, [EntryKind.INCLUDED_GRANT])
    assert cycle_usage_micro(workspace.pk, start=start, end=end) == max(0, -usage - refunded)
    assert cycle_included_raw(workspace.pk, start=start, end=end) == granted + usage + refunded


def test_each_charge_adds_to_its_day_total(workspace):
    start_on(workspace, plan="pro", anchor_day=5, start=utc(2026, 3, 5))
    _history(workspace)
    days = UsageDayTotal.objects.filter(workspace=workspace).values("day").annotate(
        s=Sum("charged_micro"), n=Sum("charges")).values_list("day", "s", "n")
    assert {day.isoformat(): (micro // MICRO, charges) for day, micro, charges in days} == {
        "2026-03-05": (5, 1), "2026-03-09": (7, 1), "2026-03-10": (11 + 13 + 17, 3), "2026-03-11": (19, 1),
        "2026-04-05": (23, 1),
    }


def test_the_balance_before_a_moment_is_the_ledger_before_it(workspace):
    start_on(workspace, plan="pro", anchor_day=5, start=utc(2026, 3, 5))
    _history(workspace)
    for moment in (utc(2026, 3, 1), utc(2026, 3, 10, 12), utc(2026, 3, 10, 12, 0, 0, 1), utc(2027, 1, 1)):
        expected = LedgerEntry.objects.filter(workspace=workspace, created_at__lt=moment).aggregate(
            s=Sum("amount_micro"))["s"] or 0
        assert balance_before(workspace.pk, moment=moment) == expected


def test_this_cycle_never_reads_the_cycles_usage_charges(workspace):
    """The pages' "this cycle" (cycle_usage, balance_summary) read day totals and the few
    rows that are not charges: their cost does not grow with the cycle's requests."""
    start_on(workspace, plan="pro", anchor_day=5, start=utc(2026, 3, 5))
    _history(workspace)
    with CaptureQueriesContext(connection) as queries:
        summary = balance_summary(workspace, at=utc(2026, 3, 20))
        usage = cycle_usage(workspace.pk, at=utc(2026, 3, 20))
    assert summary.cycle_used_micro == usage.used_micro == (5 + 7 + 11 + 13 + 17 + 19 - 3) * MICRO
    ledger_reads = [q["sql"] for q in queries if "billing_ledgerentry" in q["sql"]]
    assert ledger_reads
    for sql in ledger_reads:
        assert "NOT (" in sql and "'usage'" in sql, sql  # only through the index of non-charges
    assert summary.cycle.start == utc(2026, 3, 5) and summary.cycle.end == utc(2026, 4, 5)
    assert usage.window.end - usage.window.start == timedelta(days=31)


def test_the_billing_pages_day_lines_never_read_the_usage_charges(workspace):
    """Recent movements count a day's requests from its totals: a busy workspace's 30 days
    of charges are never read (730 ms at 10 million events when they were)."""
    from billing.movements import movements_recent

    start_on(workspace, plan="pro", anchor_day=5, start=utc(2026, 3, 5))
    _history(workspace)
    with CaptureQueriesContext(connection) as queries:
        lines = movements_recent(workspace, now=utc(2026, 3, 12))
    usage_days = {line.day.isoformat(): (line.requests, -line.amount_micro // MICRO) for line in lines if line.is_usage_day}
    assert usage_days == {"2026-03-05": (1, 5), "2026-03-09": (1, 7), "2026-03-10": (3, 41), "2026-03-11": (1, 19)}
    for sql in (q["sql"] for q in queries if "billing_ledgerentry" in q["sql"]):
        assert "NOT (" in sql and "'usage'" in sql, sql
