"""PostgreSQL, threads: 50 concurrent charges crossing the threshold make one recharge."""

import pytest

from billing import payments
from billing.ledger import credits_charge, ledger_sum, workspace_balance
from billing.models import EntryKind, LedgerEntry, RechargeAttempt
from billing.money import MICRO
from tests.billing.helpers import buy
from tests.billing.test_auto_recharge import StripeIntents, card_on_file, turn_on
from tests.billing.test_concurrency_pg import run_threads
from tests.factories import UserFactory, WorkspaceFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_50_concurrent_charges_crossing_the_threshold_make_one_recharge():
    owner = UserFactory(email="busy@example.com")
    busy = WorkspaceFactory(owner=owner, name="Busy")
    card_on_file(busy)
    buy(busy, 1_000, "p1")
    turn_on(busy, owner, threshold=800, amount=5_000)
    fake = StripeIntents()

    def work(n):
        credits_charge(workspace=busy, amount_micro=10 * MICRO, reference=f"usage:{n}")

    with payments.transport_use(fake.transport):
        run_threads(50, work)
    assert len(fake.charges) == 1
    assert RechargeAttempt.objects.get().status == "succeeded"
    assert LedgerEntry.objects.filter(kind=EntryKind.AUTO_RECHARGE).count() == 1
    assert workspace_balance(busy.pk) == ledger_sum(busy.pk) == (1_000 - 500 + 5_000) * MICRO
