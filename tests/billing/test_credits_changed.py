"""billing.credits: every committed ledger write tells the listeners the balance it left.

Auto-recharge and alerts hook in here; a write that rolls back, or a replay that moves
nothing, must not wake them.
"""

import pytest
from django.db import transaction

from billing.credits import credits_listener_add, credits_listener_remove
from billing.models import EntryKind
from billing.ledger import credits_charge, ledger_post
from billing.money import MICRO
from tests.billing.helpers import balance, buy
from tests.usage.metering_helpers import *  # noqa: F401,F403
from tests.usage.metering_helpers import event

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    calls = []

    def listener(*, balances):
        calls.append(dict(balances))

    credits_listener_add(listener)
    yield calls
    credits_listener_remove(listener)


def test_a_purchase_is_heard_after_its_commit_with_the_balance(workspace, heard, committed):
    with committed():
        with transaction.atomic():
            buy(workspace, 10, "pi_1")
            assert heard == []  # not before the commit
    assert heard == [{workspace.pk: balance(workspace)}]


def test_a_rolled_back_write_is_never_heard(workspace, heard, committed):
    with committed():
        with pytest.raises(RuntimeError), transaction.atomic():
            buy(workspace, 10, "pi_1")
            raise RuntimeError("the payment's transaction fails")
    assert heard == []


def test_a_replayed_reference_moves_nothing_and_is_not_heard(workspace, heard, committed):
    with committed():
        credits_charge(workspace=workspace, amount_micro=3 * MICRO, reference="usage:x")
    with committed():
        again = credits_charge(workspace=workspace, amount_micro=3 * MICRO, reference="usage:x")
    assert not again.created
    assert heard == [{workspace.pk: balance(workspace)}]


def test_every_kind_of_write_is_heard(workspace, heard, committed):
    kinds = [EntryKind.INCLUDED_GRANT, EntryKind.REFUND, EntryKind.EXPIRY, EntryKind.ADJUSTMENT]
    with committed():
        for n, kind in enumerate(kinds):
            ledger_post(workspace=workspace, kind=kind, amount_micro=MICRO, reference=f"r{n}")
    assert len(heard) == len(kinds)
    assert heard[-1] == {workspace.pk: balance(workspace)}


def test_a_failing_listener_does_not_fail_the_write(workspace, heard, committed):
    def broken(*, balances):
        raise ValueError("alert service down")

    credits_listener_add(broken)
    try:
        with committed():
            buy(workspace, 10, "pi_1")
    finally:
        credits_listener_remove(broken)
    assert heard == [{workspace.pk: balance(workspace)}]


def test_a_gateway_charge_is_heard_with_the_balance_it_answered(gateway, api_key, heard, committed):
    key, _secret = api_key
    with committed():
        body = gateway(event(key, "req_1")).json()
    assert heard[-1] == {key.workspace_id: balance(key.workspace)}
    assert body["balance"] == f"{heard[-1][key.workspace_id] / MICRO:.6f}"


def test_a_batch_is_heard_once_with_its_last_balance(gateway, api_key, heard, committed):
    key, _secret = api_key
    heard.clear()
    with committed():
        results = gateway({"events": [event(key, f"req_{n}") for n in range(3)]}).json()["results"]
    assert heard == [{key.workspace_id: balance(key.workspace)}]
    assert results[-1]["balance"] == f"{balance(key.workspace) / MICRO:.6f}"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_autocommit_gateway_charge_is_heard_before_the_answer(gateway, api_key, heard):
    key, _secret = api_key
    heard.clear()
    after_batch = gateway({"events": [event(key, "req_1"), event(key, "req_2")]}).json()["results"][-1]
    gateway(event(key, "req_3"))
    assert heard == [
        {key.workspace_id: int(float(after_batch["balance"]) * MICRO)},
        {key.workspace_id: balance(key.workspace)},
    ]
