"""The usage events table partitioned by month (PostgreSQL) and idempotency in its own table.

An event id still charges once across a month boundary, across partitions, at once from
several processes and after its key has been purged; partitions exist ahead of time; a
month goes only when every row in it is past the 13-month retention; the migration turns a
table holding rows into a partitioned one without losing any.
"""

import threading
from datetime import datetime, timedelta, timezone

import pytest
from dateutil.relativedelta import relativedelta
from django.apps import apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone as dj_timezone

from billing.money import MICRO
from tests.usage.metering_helpers import *  # noqa: F401,F403
from tests.usage.metering_helpers import balance_of, event, usage_charges
from usage import partitions
from usage.models import DailyUsage, UsageEvent, UsageEventKey
from usage.rollup import rollup_run, usage_purge
from usage.services import usage_record, usage_record_batch

postgres = pytest.mark.postgres
UTC = timezone.utc


def _partition_of(event_id):
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM usage_usageevent WHERE event_id = %s", [event_id])
        return [name for (name,) in cursor.fetchall()]


def _next_month_boundary():
    return partitions.month_start(dj_timezone.now()) + relativedelta(months=1)


# --- Idempotency in its own table (every database) ------------------------------------------

@pytest.mark.django_db
def test_a_replay_after_the_keys_are_purged_returns_the_first_answer_and_charges_nothing(api_key, workspace):
    key, _ = api_key
    now = dj_timezone.now()
    first = usage_record(event(key, "req_old"), now=now - timedelta(days=40))
    after_first = balance_of(workspace)
    rollup_run()
    usage_purge(now=now)
    assert not UsageEventKey.objects.filter(event_id="req_old").exists()  # keys last 35 days
    again = usage_record(event(key, "req_old"), now=now)
    assert (again.status, again.body) == (first.status, first.body)
    batch = usage_record_batch([event(key, "req_old"), event(key, "req_new")], now=now)
    assert batch[0].body == first.body and batch[1].body["billed"] is True
    assert balance_of(workspace) == after_first - 6 * MICRO
    assert len(usage_charges(workspace)) == 2


@pytest.mark.django_db
def test_keys_are_kept_35_days(api_key):
    key, _ = api_key
    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    usage_record(event(key, "day35"), now=datetime(2026, 10, 24, 0, 0, 1, tzinfo=UTC))
    usage_record(event(key, "day36"), now=datetime(2026, 10, 23, 23, 59, tzinfo=UTC))
    usage_purge(now=now)
    assert list(UsageEventKey.objects.values_list("event_id", flat=True)) == ["day35"]


def test_no_foreign_key_points_at_usage_events():
    # On PostgreSQL the events' primary key is (id, received_at): a foreign key on `id`
    # alone cannot be made (the migration refuses to convert while one exists).
    pointing = [
        f"{model.__name__}.{field.name}"
        for model in apps.get_models() for field in model._meta.get_fields()
        if field.is_relation and field.concrete and field.related_model is UsageEvent
        and getattr(field, "db_constraint", False)
    ]
    assert pointing == []


# --- PostgreSQL: the partitioned table ------------------------------------------------------

@postgres
@pytest.mark.django_db
def test_partitions_exist_three_months_ahead_and_the_beat_task_makes_the_next(api_key):
    from config.celery import app
    from usage.tasks import usage_partitions_ensure

    key, _ = api_key
    assert partitions.events_partitioned()
    this_month = partitions.month_start(dj_timezone.now())
    names = {p.name for p in partitions.partitions()}
    for ahead in range(4):
        assert partitions.partition_name(this_month + relativedelta(months=ahead)) in names
    assert "usage.tasks.usage_partitions_ensure" in {e["task"] for e in app.conf.beat_schedule.values()}
    assert usage_partitions_ensure() == []  # all there already
    later = this_month + relativedelta(months=5)
    made = partitions.partitions_ensure(now=later)
    assert made == [partitions.partition_name(this_month + relativedelta(months=m)) for m in (5, 6, 7, 8)]
    usage_record(event(key, "far"), now=later + timedelta(days=3))
    assert _partition_of("far") == [partitions.partition_name(later)]


@postgres
@pytest.mark.django_db
def test_a_replay_across_a_month_boundary_returns_the_first_answer_and_charges_once(api_key, workspace):
    key, _ = api_key
    boundary = _next_month_boundary()
    before = balance_of(workspace)
    first = usage_record(event(key, "req_edge"), now=boundary - timedelta(microseconds=1))
    again = usage_record(event(key, "req_edge"), now=boundary)
    batch = usage_record_batch([event(key, "req_edge"), event(key, "req_next")], now=boundary + timedelta(days=1))
    assert again.body == first.body and batch[0].body == first.body
    conflict = usage_record_batch([event(key, "req_edge", quantity={"pages": 5})], now=boundary)
    assert conflict[0].body["error"]["code"] == "idempotency_conflict"
    assert balance_of(workspace) == before - 12 * MICRO
    assert len(usage_charges(workspace)) == 2
    assert _partition_of("req_edge") == [partitions.partition_name(boundary - timedelta(days=1))]
    assert _partition_of("req_next") == [partitions.partition_name(boundary)]


@postgres
@pytest.mark.django_db(transaction=True)
def test_twins_at_once_on_both_sides_of_a_month_boundary_charge_once(api_key, workspace):
    key, _ = api_key
    boundary = _next_month_boundary()
    before = balance_of(workspace)
    times = [boundary - timedelta(milliseconds=1), boundary + timedelta(milliseconds=1)] * 4
    barrier = threading.Barrier(len(times))
    answers = [None] * len(times)

    def post(index):
        barrier.wait()
        try:
            answers[index] = usage_record_batch(
                [event(key, f"twin_{n}", quantity={"pages": 1}) for n in range(10)], now=times[index])
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(times))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(result.status == 200 for answer in answers for result in answer)
    assert all(answer == answers[0] for answer in answers)  # every caller got the first answers
    assert len(usage_charges(workspace)) == 10
    assert balance_of(workspace) == before - 20 * MICRO
    assert UsageEvent.objects.filter(event_id__startswith="twin_").count() == 10
    assert len({name for n in range(10) for name in _partition_of(f"twin_{n}")}) == 1


@postgres
@pytest.mark.django_db
def test_a_month_is_dropped_only_once_every_row_is_past_13_months(api_key, workspace):
    key, _ = api_key
    for month in (datetime(2025, 10, 1, tzinfo=UTC), datetime(2025, 11, 1, tzinfo=UTC)):
        partitions.partition_create(month)
    usage_record(event(key, "oct_last"), now=datetime(2025, 10, 31, 23, 59, 59, tzinfo=UTC))
    usage_record(event(key, "nov_first"), now=datetime(2025, 11, 1, tzinfo=UTC))
    usage_record(event(key, "nov_late"), now=datetime(2025, 11, 30, 12, tzinfo=UTC))
    rollup_run()
    ledger_before = balance_of(workspace)

    # 2026-12-01: the cutoff is 2025-11-01. October is entirely past it and goes whole;
    # November, whose first row is past it too, stays until all of it is.
    assert usage_purge(now=datetime(2026, 12, 1, 9, tzinfo=UTC))[0] == 1
    names = {p.name for p in partitions.partitions()}
    assert "usage_usageevent_2025_10" not in names and "usage_usageevent_2025_11" in names
    assert set(UsageEvent.objects.values_list("event_id", flat=True)) == {"nov_first", "nov_late"}
    assert usage_purge(now=datetime(2026, 12, 31, 23, tzinfo=UTC))[0] == 0
    assert UsageEvent.objects.count() == 2
    assert usage_purge(now=datetime(2027, 1, 1, tzinfo=UTC))[0] == 2
    assert "usage_usageevent_2025_11" not in {p.name for p in partitions.partitions()}
    assert not UsageEvent.objects.exists()
    # The ledger and the roll-ups stay.
    assert balance_of(workspace) == ledger_before
    assert len(usage_charges(workspace)) == 3
    assert DailyUsage.objects.filter(workspace=workspace, day__lt=datetime(2025, 12, 1).date()).count() == 3


@postgres
@pytest.mark.django_db
def test_a_month_made_late_takes_its_rows_from_the_default_partition(api_key):
    key, _ = api_key
    old = datetime(2024, 3, 15, tzinfo=UTC)
    first = usage_record(event(key, "backdated"), now=old)
    assert _partition_of("backdated") == ["usage_usageevent_default"]
    row = UsageEvent.objects.values().get(event_id="backdated")
    assert partitions.partition_create(old) is True
    assert partitions.partition_create(old) is False
    assert _partition_of("backdated") == ["usage_usageevent_2024_03"]
    assert UsageEvent.objects.values().get(event_id="backdated") == row
    assert usage_record(event(key, "backdated"), now=old).body == first.body


# --- PostgreSQL: the migration --------------------------------------------------------------

BEFORE = ("usage", "0005_catalog_to_pricing")


@postgres
@pytest.mark.django_db(transaction=True)
def test_the_migration_converts_a_table_holding_rows_without_losing_any(api_key, workspace):
    key, _ = api_key
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate([BEFORE])
    assert not partitions.events_partitioned()
    OldEvent = MigrationExecutor(connection).loader.project_state(BEFORE).apps.get_model("usage", "UsageEvent")
    now = dj_timezone.now()
    received = [now - timedelta(days=d) for d in (0, 3, 20, 34, 70, 200, 500)] * 3
    for n, at in enumerate(received):
        OldEvent.objects.create(
            workspace_id=workspace.pk, key_id=key.pk, event_id=f"old_{n}", product="document.invoice",
            occurred_at=at, received_at=at, charged_at=at, touched_at=at, body_hash="h" * 64,
            response={"id": f"old_{n}", "n": n}, billed=True, charged_micro=n, quantity={"pages": "1"},
        )
    rows = sorted(OldEvent.objects.values_list("id", "event_id", "received_at", "response", "charged_micro"))
    try:
        MigrationExecutor(connection).migrate(leaves)
        assert partitions.events_partitioned()
        assert sorted(UsageEvent.objects.values_list(
            "id", "event_id", "received_at", "response", "charged_micro")) == rows
        this_month = partitions.month_start(now)
        names = {p.name for p in partitions.partitions()}
        assert partitions.partition_name(this_month + relativedelta(months=3)) in names
        assert partitions.partition_name(this_month - relativedelta(months=6)) in names
        # Keys for the events of the last 35 days; a replay of one is recognised.
        assert set(UsageEventKey.objects.values_list("event_id", flat=True)) == {
            f"old_{n}" for n, at in enumerate(received) if at >= now - timedelta(days=35)}
        replay = usage_record_batch([event(key, "old_0")], now=now)[0]
        assert replay.body["error"]["code"] == "idempotency_conflict"  # its stored body differs
        assert UsageEvent.objects.filter(event_id="old_0").count() == 1
        # New events continue the ids.
        usage_record(event(key, "after"), now=now)
        assert UsageEvent.objects.get(event_id="after").id > max(r[0] for r in rows)
    finally:
        MigrationExecutor(connection).migrate(leaves)
