"""PostgreSQL, threads: 50 concurrent charges crossing the low-balance threshold send one
e-mail per person; 50 concurrent checks of one crossing raise one alert."""

import pytest
from django.core import mail
from django.core.cache import cache

from billing.alerts import alerts_check
from billing.credits import credits_listener_add, credits_listener_remove
from billing.ledger import credits_charge, ledger_sum, workspace_balance
from billing.models import Alert, AlertKind, AlertSend
from billing.money import MICRO
from billing.receivers import alerts_listener
from tests.billing.helpers import buy, charge
from tests.billing.test_concurrency_pg import run_threads
from tests.factories import UserFactory, WorkspaceFactory, add_member

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def busy_workspace(credits):
    owner = UserFactory(email="busy@example.com")
    busy = WorkspaceFactory(owner=owner, name="Busy")
    add_member(busy, "ops@example.com", "admin")
    buy(busy, credits, "p1")
    mail.outbox.clear()
    return busy


def test_50_concurrent_charges_crossing_the_threshold_send_one_alert():
    busy = busy_workspace(600)  # first cycle: the threshold is 100 credits

    def work(n):
        credits_charge(workspace=busy, amount_micro=10 * MICRO, reference=f"usage:{n}")

    run_threads(50, work)  # 600 -> 100: the last few charges cross
    assert workspace_balance(busy.pk) == ledger_sum(busy.pk) == 100 * MICRO
    # Exactly 100 is not below; one more concurrent wave takes it to zero.
    run_threads(50, lambda n: credits_charge(workspace=busy, amount_micro=2 * MICRO, reference=f"more:{n}"))
    assert workspace_balance(busy.pk) == 0
    low = [m for m in mail.outbox if m.subject == "[Meterdesk] The balance of Busy is low"]
    zero = [m for m in mail.outbox if m.subject == "[Meterdesk] Busy is out of credits"]
    assert sorted(m.to[0] for m in low) == ["busy@example.com", "ops@example.com"]
    assert sorted(m.to[0] for m in zero) == ["busy@example.com", "ops@example.com"]
    assert Alert.objects.filter(workspace=busy).count() == 2
    assert AlertSend.objects.count() == 4


def test_50_concurrent_checks_of_one_crossing_raise_one_alert():
    busy = busy_workspace(500)
    credits_listener_remove(alerts_listener)  # the crossing is left for the threads to find
    try:
        charge(busy, 450, "u1")  # 50 left
    finally:
        credits_listener_add(alerts_listener)
    assert not Alert.objects.exists()
    cache.clear()
    run_threads(50, lambda n: alerts_check(busy.pk))  # every check at once, none deduplicated
    assert list(Alert.objects.values_list("kind", flat=True)) == [AlertKind.LOW_BALANCE]
    assert sorted(m.to[0] for m in mail.outbox) == ["busy@example.com", "ops@example.com"]
