"""The daily roll-up: incremental, idempotent, late events, failures, retention, Celery."""

from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.utils import timezone

from billing.money import MICRO
from tests.usage.metering_helpers import *  # noqa: F401,F403
from tests.usage.metering_helpers import event
from usage.models import DailyUsage, UsageEvent
from usage.rollup import rollup_run, usage_purge
from usage.services import usage_record, usage_record_batch

pytestmark = pytest.mark.django_db


def _rows():
    return sorted(
        (r.workspace_id, r.day.isoformat(), r.key_id, r.product, r.requests, r.billed_requests, r.quantity, r.credits_micro)
        for r in DailyUsage.objects.all()
    )


def test_it_rolls_up_per_day_key_and_product(api_key, workspace):
    key, _ = api_key
    now = timezone.now()
    usage_record_batch([
        event(key, "a", quantity={"pages": 2}),
        event(key, "b", quantity={"pages": 3}),
        event(key, "c", product="image.x", quantity={"images": 1}),
        event(key, "d", status_code=500),
    ], now=now)
    rollup_run()
    rows = {r.product: r for r in DailyUsage.objects.filter(workspace=workspace)}
    assert rows["document.invoice"].requests == 3
    assert rows["document.invoice"].billed_requests == 2
    assert rows["document.invoice"].quantity == {"pages": "8"}
    assert rows["document.invoice"].credits_micro == 10 * MICRO
    assert rows["image.x"].credits_micro == 2 * MICRO
    assert rows["image.x"].day == now.date()


def test_running_twice_gives_the_same_rows(api_key):
    key, _ = api_key
    usage_record_batch([event(key, f"e{i}", quantity={"pages": i + 1}) for i in range(5)])
    rollup_run()
    first = _rows()
    rollup_run()
    assert _rows() == first
    rollup_run(full=True)
    assert _rows() == first


def test_late_events_for_an_old_day_are_picked_up(api_key, workspace):
    key, _ = api_key
    ten_days_ago = timezone.now() - timedelta(days=10)
    usage_record_batch([event(key, "old1")], now=ten_days_ago)
    rollup_run()
    # An event written to the ledger on that old day arrives after the roll-up ran
    # (e.g. the demo back-fills, or a delayed write): its day is redone.
    usage_record_batch([event(key, "old2", quantity={"pages": 1})], now=ten_days_ago)
    rollup_run()
    row = DailyUsage.objects.get(workspace=workspace, day=ten_days_ago.date())
    events = UsageEvent.objects.filter(workspace=workspace)
    assert row.requests == events.count() == 2
    assert row.credits_micro == sum(e.charged_micro for e in events) == 8 * MICRO


def test_a_failing_query_raises_and_writes_nothing(api_key, monkeypatch):
    key, _ = api_key
    usage_record(event(key, "f1"))
    rollup_run()
    before = _rows()
    usage_record(event(key, "f2"))

    def broken(*args, **kwargs):
        raise DatabaseError("connection lost")

    monkeypatch.setattr("usage.rollup._rows", broken)
    with pytest.raises(DatabaseError):
        rollup_run()
    assert _rows() == before  # the old figures stay; nothing became zero
    monkeypatch.undo()
    rollup_run()
    assert sum(r.requests for r in DailyUsage.objects.all()) == 2


def test_staff_pricing_an_unpriced_event_moves_it_to_its_charge_day(api_key, workspace):
    from pricing.models import Price
    from usage.repricing import unpriced_event_charge

    key, _ = api_key
    received = timezone.now() - timedelta(days=3)
    usage_record_batch([event(key, "u1", product="hologram.render", quantity={"images": 2})], now=received)
    rollup_run()
    assert DailyUsage.objects.get(day=received.date()).credits_micro == 0
    Price.objects.create(product="hologram.*", unit="image", meter="hologram", scheme="flat", price=5)
    stored = UsageEvent.objects.get(event_id="u1")
    assert unpriced_event_charge(stored) is True
    assert unpriced_event_charge(stored) is False  # once
    rollup_run()
    today = DailyUsage.objects.get(day=timezone.now().date())
    assert today.credits_micro == 10 * MICRO
    assert not DailyUsage.objects.filter(day=received.date()).exists()


def test_retention_drops_old_events_and_expired_metadata(api_key, workspace):
    key, _ = api_key
    workspace.billing.plan.metadata_retention_days = 30
    workspace.billing.plan.save()
    now = timezone.now()
    usage_record_batch([event(key, "ancient")], now=now - timedelta(days=400))
    usage_record_batch([event(key, "month", metadata={"user": "u1"})], now=now - timedelta(days=31))
    usage_record_batch([event(key, "fresh", metadata={"user": "u2"})], now=now)
    rollup_run()
    deleted, cleared = usage_purge(now=now)
    assert deleted == 1 and cleared == 1
    assert not UsageEvent.objects.filter(event_id="ancient").exists()
    assert UsageEvent.objects.get(event_id="month").metadata is None
    assert UsageEvent.objects.get(event_id="month").billed  # billing fields stay 13 months
    assert UsageEvent.objects.get(event_id="fresh").metadata == {"user": "u2"}
    # The roll-up keeps the old day's figures.
    assert DailyUsage.objects.filter(day=(now - timedelta(days=400)).date()).exists()


def test_the_command_runs_the_rollup(api_key, capsys):
    from django.core.management import call_command

    key, _ = api_key
    usage_record(event(key, "cmd"))
    call_command("rollup_usage")
    assert DailyUsage.objects.count() == 1
    assert "Rolled up 1" in capsys.readouterr().out


def test_the_celery_task_is_safe_to_run_twice(api_key):
    from usage.tasks import rollup_usage

    key, _ = api_key
    usage_record(event(key, "t"))
    rollup_usage.delay()
    first = _rows()
    rollup_usage.delay()
    assert _rows() == first and len(first) == 1


def test_workflow_lines_qualifiers_and_fractions_sum_exactly(client, api_key, workspace):
    """The roll-up (one SQL aggregate on PostgreSQL, Python elsewhere) and the live read
    give the same units: workflow lines' quantities count, qualifiers such as the instance
    do not, and fractions add up exactly."""
    key, secret = api_key
    bodies = [
        {"id": "wf", "key_id": key.public_id, "product": "workflow.onboarding", "lines": [
            {"product": "document.invoice", "tier": "lo", "quantity": {"pages": 2}},
            {"product": "image.receipt", "tier": "hi", "quantity": {"images": 1}},
        ]},
        event(key, "llm", product="llm.llama-3-8b", tier=None,
              quantity={"inference_seconds": "0.1", "instance": "micro"}),
        event(key, "llm2", product="llm.llama-3-8b", tier=None,
              quantity={"inference_seconds": "0.2", "instance": "micro"}),
    ]
    for body in bodies:
        body.pop("tier", None) if body.get("tier") is None else None
    usage_record_batch(bodies)

    def by_product():
        rows = client.get("/api/v1/usage?group_by=product", HTTP_AUTHORIZATION=f"Bearer {secret}").json()["rows"]
        return {row["product"]: (row["requests"], row["quantity"], row["credits"]) for row in rows}

    live = by_product()
    assert live["workflow.onboarding"][:2] == (1, {"images": "1", "pages": "2"})
    assert live["llm.llama-3-8b"][:2] == (2, {"inference_seconds": "0.3"})
    rollup_run(full=True)
    assert by_product() == live
    row = DailyUsage.objects.get(product="llm.llama-3-8b")
    assert row.quantity == {"inference_seconds": "0.3"} and row.requests == 2
