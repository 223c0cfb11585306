"""credits_charge_many and key_spends_add: the one way to charge many usage references and
add many key spends. The same tests run on SQLite (make test) and PostgreSQL (CI), where
the same SQL is also part of the usage write."""

import pytest
from django.utils import timezone

from apikeys.selectors import key_cycle_spend_micro
from apikeys.services import key_create, key_spends_add
from billing.credits import credits_listener_add, credits_listener_remove
from billing.ledger import Charge, credits_charge_many
from billing.money import MICRO
from tests.billing.helpers import balance, buy
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db


def _charge(workspace, credits, reference):
    return Charge(workspace.pk, credits * MICRO, reference, f"memo {reference}", timezone.now())


def test_many_charges_move_each_balance_once_and_answer_the_running_balance(workspace, owner, committed):
    other = WorkspaceFactory(owner=owner, name="Other")
    buy(workspace, 100, "p1")
    buy(other, 50, "p2")
    heard = []
    listener = lambda *, balances: heard.append(dict(balances))  # noqa: E731
    credits_listener_add(listener)
    try:
        with committed():
            posted = credits_charge_many(charges=[
                _charge(workspace, 3, "usage:a"), _charge(other, 5, "usage:b"), _charge(workspace, 4, "usage:c"),
            ])
    finally:
        credits_listener_remove(listener)
    assert posted == {"usage:a": 97 * MICRO, "usage:b": 45 * MICRO, "usage:c": 93 * MICRO}
    assert balance(workspace) == 93 * MICRO and balance(other) == 45 * MICRO
    assert heard == [{workspace.pk: 93 * MICRO, other.pk: 45 * MICRO}]


def test_a_reference_charged_before_moves_nothing(workspace):
    buy(workspace, 100, "p1")
    credits_charge_many(charges=[_charge(workspace, 3, "usage:a")])
    posted = credits_charge_many(charges=[_charge(workspace, 3, "usage:a"), _charge(workspace, 2, "usage:d")])
    assert posted == {"usage:d": 95 * MICRO}
    assert balance(workspace) == 95 * MICRO


def test_many_key_spends_add_up_per_key(workspace, owner):
    first, _ = key_create(workspace=workspace, user=owner, name="one")
    second, _ = key_create(workspace=workspace, user=owner, name="two")
    key_spends_add(amounts={(first.pk, workspace.pk): 3 * MICRO, (second.pk, workspace.pk): 1 * MICRO})
    key_spends_add(amounts={(first.pk, workspace.pk): 2 * MICRO})
    assert key_cycle_spend_micro(first.pk, workspace.pk) == 5 * MICRO
    assert key_cycle_spend_micro(second.pk, workspace.pk) == 1 * MICRO
