"""PostgreSQL: concurrent charges lose no update; one reference moves once; a cycle closed
by two workers at once closes once."""

import threading

import pytest
from django.db import connection

from billing.closing import cycles_close_due
from billing.ledger import credits_charge, ledger_sum, workspace_balance
from billing.models import BillingCycle, EntryKind, Invoice, LedgerEntry
from billing.money import MICRO
from tests.billing.helpers import buy, charge, start_on, utc
from tests.factories import UserFactory, WorkspaceFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_threads(count, target):
    barrier = threading.Barrier(count)
    errors = []

    def worker(n):
        try:
            barrier.wait()
            target(n)
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


@pytest.fixture
def busy():
    return WorkspaceFactory(owner=UserFactory(email="busy@example.com"), name="Busy")


def test_8_threads_x_500_charges_give_an_exact_balance(busy):
    buy(busy, 1_000, "p1")
    cost = 1_234_567  # 1.234567 credits

    def work(n):
        for i in range(500):
            credits_charge(workspace=busy, amount_micro=cost, reference=f"usage:{n}:{i}")

    run_threads(8, work)
    expected = 1_000 * MICRO - 8 * 500 * cost
    assert workspace_balance(busy.pk) == ledger_sum(busy.pk) == expected
    assert LedgerEntry.objects.filter(workspace=busy, kind=EntryKind.USAGE).count() == 4_000


def test_the_same_usage_reference_from_8_threads_moves_once(busy):
    buy(busy, 100, "p1")
    balances = []
    run_threads(8, lambda n: balances.append(
        credits_charge(workspace=busy, amount_micro=7 * MICRO, reference="usage:req_same").balance_micro
    ))
    assert LedgerEntry.objects.filter(reference="usage:req_same").count() == 1
    assert workspace_balance(busy.pk) == 93 * MICRO
    assert len(balances) == 8


def test_a_cycle_closed_by_two_workers_at_once_closes_once(busy):
    start_on(busy, plan="pro", anchor_day=31, start=utc(2027, 1, 31))
    charge(busy, 130_000, "u1", at=utc(2027, 2, 10))
    at = utc(2027, 2, 28, 0, 5)

    run_threads(4, lambda n: cycles_close_due(at=at))

    assert Invoice.objects.filter(workspace=busy).count() == 1
    assert Invoice.objects.get(workspace=busy).total_cents == 79_900 + 30_000
    assert BillingCycle.objects.filter(workspace=busy).count() == 2
    grants = LedgerEntry.objects.filter(workspace=busy, kind=EntryKind.INCLUDED_GRANT).count()
    assert grants == 2
    assert workspace_balance(busy.pk) == ledger_sum(busy.pk) == 100_000 * MICRO


def test_invoice_numbers_from_concurrent_closes_are_unique_and_gap_free():
    workspaces = [WorkspaceFactory(owner=UserFactory(), name=f"W{n}") for n in range(6)]
    for n, ws in enumerate(workspaces):
        start_on(ws, plan="pro", anchor_day=1, start=utc(2026, 1, 1))
    run_threads(3, lambda n: cycles_close_due(at=utc(2026, 2, 1)))
    numbers = sorted(int(n[-6:]) for n in Invoice.objects.values_list("number", flat=True))
    assert len(numbers) == 6 and numbers == list(range(numbers[0], numbers[0] + 6))
