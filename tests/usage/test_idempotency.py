"""One event id moves credits once: replays, conflicts, repeats inside a batch, races."""

import json
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client

from billing.money import MICRO
from tests.usage.metering_helpers import *  # noqa: F401,F403
from tests.usage.metering_helpers import USAGE, balance_of, event, usage_charges
from usage.models import UsageEvent


@pytest.mark.django_db
def test_a_replay_returns_the_first_response_and_charges_nothing(gateway, api_key, workspace):
    key, _ = api_key
    first = gateway(event(key, "req_r")).json()
    after_first = balance_of(workspace)
    gateway(event(key, "req_other"))  # the balance moves in between
    replay = gateway(event(key, "req_r"))
    assert replay.status_code == 200
    assert replay.json() == first  # unchanged, balance included
    assert balance_of(workspace) == after_first - 6 * MICRO
    assert len(usage_charges(workspace)) == 2


@pytest.mark.django_db
def test_bodies_are_compared_after_parsing(gateway, api_key, workspace):
    key, _ = api_key
    first = gateway(event(key, "req_p", quantity={"pages": 2})).json()
    # Other key order, "2.0" for 2, an omitted tier (auto) and status (200): the same event.
    same = {"quantity": {"pages": "2.0"}, "product": "document.invoice", "key_id": key.public_id, "id": "req_p"}
    response = gateway(same)
    assert response.status_code == 200
    assert response.json() == first
    assert len(usage_charges(workspace)) == 1


@pytest.mark.django_db
def test_a_different_body_with_the_same_id_is_409(gateway, api_key, workspace):
    key, _ = api_key
    gateway(event(key, "req_c", quantity={"pages": 2}))
    before = balance_of(workspace)
    response = gateway(event(key, "req_c", quantity={"pages": 3}))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_conflict"
    assert response.json()["error"]["param"] == "id"
    assert balance_of(workspace) == before
    assert UsageEvent.objects.filter(event_id="req_c").count() == 1


@pytest.mark.django_db
def test_an_unbilled_first_event_then_a_billable_body_is_409_and_charges_nothing(gateway, api_key, workspace):
    key, _ = api_key
    gateway(event(key, "req_u", status_code=500))
    before = balance_of(workspace)
    assert gateway(event(key, "req_u")).status_code == 409
    assert balance_of(workspace) == before
    assert usage_charges(workspace) == []


@pytest.mark.django_db
def test_the_same_id_in_two_workspaces_is_two_events(gateway, api_key, workspace, outsider):
    from apikeys.services import key_create

    key, _ = api_key
    other_ws = outsider.memberships.get().workspace
    other_key, _ = key_create(workspace=other_ws, user=outsider, name="x")
    assert gateway(event(key, "shared")).json()["billed"]
    assert gateway(event(other_key, "shared")).json()["billed"]
    assert UsageEvent.objects.filter(event_id="shared").count() == 2


@pytest.mark.django_db
def test_an_id_repeated_inside_a_batch_gets_the_first_result(gateway, api_key, workspace):
    key, _ = api_key
    before = balance_of(workspace)
    results = gateway({"events": [
        event(key, "dup"), event(key, "other"), event(key, "dup"), event(key, "dup", quantity={"pages": 9}),
    ]}).json()["results"]
    assert results[2] == results[0]
    assert results[3]["error"]["code"] == "idempotency_conflict"
    assert balance_of(workspace) == before - 12 * MICRO
    assert len(usage_charges(workspace)) == 2


@pytest.mark.django_db
def test_a_batch_replaying_earlier_events_charges_only_new_ones(gateway, api_key, workspace):
    key, _ = api_key
    single = gateway(event(key, "old")).json()
    before = balance_of(workspace)
    results = gateway({"events": [event(key, "old"), event(key, "new")]}).json()["results"]
    assert results[0] == single
    assert results[1]["billed"] is True
    assert balance_of(workspace) == before - 6 * MICRO
    # And the whole batch again: nothing moves.
    again = gateway({"events": [event(key, "old"), event(key, "new")]}).json()["results"]
    assert again == results
    assert balance_of(workspace) == before - 6 * MICRO


def _post_many_at_once(bodies, secret):
    barrier = threading.Barrier(len(bodies))
    answers = [None] * len(bodies)

    def post(index):
        client = Client()
        barrier.wait()
        answers[index] = client.post(USAGE, data=json.dumps(bodies[index]), content_type="application/json",
                                     HTTP_AUTHORIZATION=f"Bearer {secret}")
        connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sixteen_threads_posting_the_same_id_charge_once(api_key, workspace, service_secret):
    key, _ = api_key
    before = balance_of(workspace)
    answers = _post_many_at_once([event(key, "req_race")] * 16, service_secret)
    assert [a.status_code for a in answers] == [200] * 16
    assert len({json.dumps(a.json(), sort_keys=True) for a in answers}) == 1
    assert len(usage_charges(workspace)) == 1
    assert balance_of(workspace) == before - 6 * MICRO
    assert UsageEvent.objects.filter(event_id="req_race").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sixteen_threads_posting_batches_with_the_same_ids_charge_once(api_key, workspace, service_secret):
    key, _ = api_key
    before = balance_of(workspace)
    batch = {"events": [event(key, f"race_{i}", quantity={"pages": 1}) for i in range(20)]}
    answers = _post_many_at_once([batch] * 8 + [event(key, "race_3", quantity={"pages": 1})] * 8, service_secret)
    assert all(a.status_code == 200 for a in answers)
    assert len(usage_charges(workspace)) == 20
    assert balance_of(workspace) == before - 40 * MICRO


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_charges_on_one_workspace_lose_no_update(api_key, workspace, service_secret):
    key, _ = api_key
    before = balance_of(workspace)
    answers = _post_many_at_once([event(key, f"par_{i}", quantity={"pages": 1}) for i in range(16)], service_secret)
    assert all(a.status_code == 200 for a in answers)
    assert balance_of(workspace) == before - 32 * MICRO
    # Each answer shows the balance after its own charge as its statement saw it: charges
    # committing at the same moment may not be in it yet, but its own always is.
    shown = [Decimal(a.json()["balance"]) * MICRO for a in answers]
    assert all(before - 32 * MICRO <= value <= before - 2 * MICRO for value in shown)
