"""A database from before day totals counted their charges migrates forward with the
count of every day's usage rows: the Billing page's "N requests" lines stay right."""

from datetime import datetime, timezone

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Sum

from billing.ledger import usage_day_mismatches
from billing.models import UsageDayTotal

BEFORE = ("billing", "0013_alerts")


def _migrate(targets):
    MigrationExecutor(connection).migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_an_installation_from_before_the_count_gets_every_days_count():
    _migrate([BEFORE])
    old = MigrationExecutor(connection).loader.project_state(BEFORE).apps
    workspace = old.get_model("teams", "Workspace").objects.create(name="Old Co", slug="old-co")
    LedgerEntry = old.get_model("billing", "LedgerEntry")
    OldDayTotal = old.get_model("billing", "UsageDayTotal")
    for n, (day, shard) in enumerate([(1, 0), (1, 3), (1, 5), (2, 7)]):
        at = datetime(2026, 3, day, 12, n, tzinfo=timezone.utc)
        LedgerEntry.objects.create(workspace=workspace, kind="usage", amount_micro=-1_000_000,
                                   reference=f"old:{n}", created_at=at)
        total, _ = OldDayTotal.objects.get_or_create(workspace=workspace, day=at.date(), shard=shard)
        OldDayTotal.objects.filter(pk=total.pk).update(charged_micro=1_000_000)
    LedgerEntry.objects.create(workspace=workspace, kind="purchase", amount_micro=5_000_000,
                               reference="old:pack", created_at=datetime(2026, 3, 1, 9, tzinfo=timezone.utc))
    old.get_model("billing", "BalanceShard").objects.create(workspace=workspace, shard=0, balance_micro=1_000_000)

    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    days = UsageDayTotal.objects.filter(workspace_id=workspace.pk).values("day").annotate(
        n=Sum("charges"), s=Sum("charged_micro")).values_list("day", "n", "s")
    assert {day.day: (n, s) for day, n, s in days} == {1: (3, 3_000_000), 2: (1, 1_000_000)}
    assert usage_day_mismatches() == []
