"""Issue 11: one bad event never sinks its batch; a failing database is one retryable 503;
a move to a zero-retention plan stops storing metadata at once."""

import psycopg
import pytest
from django.db import connection

from billing.models import BillingAccount, Plan
from billing.money import MICRO
from tests.usage.metering_helpers import *  # noqa: F401,F403
from tests.usage.metering_helpers import balance_of, event, usage_charges
from usage.models import UsageEvent

pytestmark = pytest.mark.django_db

POISONS = {
    "a time the calendar cannot hold": ({"occurred_at": "0001-01-01T00:00:00+01:00"}, False),
    "a lone surrogate in the id": ({"id": "bad\ud800"}, False),
    "a NUL in the product": ({"product": "document.\u0000invoice"}, True),
    "a NUL in metadata": ({"metadata": {"user": "u\u0000"}}, True),
}


@pytest.mark.parametrize("poison", POISONS.values(), ids=POISONS.keys())
def test_one_poison_event_never_stops_the_valid_ones_being_charged(gateway, api_key, workspace, poison):
    fields, postgres_only = poison
    if postgres_only and connection.vendor != "postgresql":
        pytest.skip("SQLite stores this text; PostgreSQL refuses it")
    key, _secret = api_key
    before = balance_of(workspace)
    response = gateway({"events": [event(key, "ok_1"), event(key, "poison", **fields), event(key, "ok_2")]})

    assert response.status_code == 200
    first, bad, second = response.json()["results"]
    assert first["billed"] and second["billed"]
    assert "error" in bad and 400 <= _status_of(bad) < 600
    assert balance_of(workspace) == before - 12 * MICRO  # 3 pages at 2 credits, twice
    assert len(usage_charges(workspace)) == 2
    assert set(UsageEvent.objects.values_list("event_id", flat=True)) == {"ok_1", "ok_2"}


def _status_of(result):
    return {"invalid_request": 400, "server_error": 500}.get(result["error"]["code"], 400)


@pytest.mark.postgres
def test_a_single_event_the_database_cannot_store_is_a_400_not_a_500(gateway, api_key, workspace):
    key, _secret = api_key
    response = gateway(event(key, "nul", metadata={"user": "u\u0000"}))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert usage_charges(workspace) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_failing_write_is_one_retryable_503_and_the_retry_charges_each_event_once(gateway, api_key, workspace):
    key, _secret = api_key
    before = balance_of(workspace)
    batch = {"events": [event(key, "r_1"), event(key, "r_2", product="no.such.product"), event(key, "r_3")]}
    settings = connection.settings_dict
    # Another session holds the events table, and ours gives up waiting: a real
    # OperationalError from the database in the middle of the write.
    with psycopg.connect(dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"],
                         port=settings["PORT"] or 5432) as other:
        other.execute("LOCK TABLE usage_usageevent IN EXCLUSIVE MODE")
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        try:
            failed = gateway(batch)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
        other.rollback()

    assert failed.status_code == 503
    assert failed.json()["error"]["code"] == "service_unavailable"
    assert int(failed["Retry-After"]) >= 1
    assert balance_of(workspace) == before and usage_charges(workspace) == []

    retried = gateway(batch)
    again = gateway(batch)
    assert retried.status_code == again.status_code == 200
    assert retried.json() == again.json()
    assert [r.get("billed") for r in retried.json()["results"]] == [True, None, True]
    assert len(usage_charges(workspace)) == 2
    assert balance_of(workspace) == before - 12 * MICRO


def test_a_move_to_a_zero_retention_plan_stops_storing_metadata_at_once(gateway, api_key, workspace):
    key, _secret = api_key
    account = BillingAccount.objects.get(workspace=workspace)
    assert account.plan.metadata_retention_days > 0
    gateway(event(key, "kept", metadata={"user": "u_1"}))  # this process now knows the plan
    assert UsageEvent.objects.get(event_id="kept").metadata == {"user": "u_1"}

    account.plan = Plan.objects.filter(metadata_retention_days=0).first()
    account.save()
    gateway(event(key, "single", metadata={"user": "u_2"}))
    gateway({"events": [event(key, "batched", metadata={"user": "u_3"}), event(key, "plain")]})

    for event_id in ("single", "batched"):
        stored = UsageEvent.objects.get(event_id=event_id)
        assert stored.metadata is None and stored.metadata_expires_at is None
