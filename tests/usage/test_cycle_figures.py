"""Every "this cycle" figure agrees: the dashboard, the API Keys page, the Usage page and the
Billing page show billing.selectors.cycle_usage's figure for the seeded demo, and the keys'
own credits add up to it."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.core.management import call_command
from django.db.models import Sum

from apikeys import demo as apikeys_demo
from billing.models import EntryKind, LedgerEntry
from billing.money import MICRO
from billing.selectors import cycle_usage
from teams import demo as teams_demo
from tests.usage.test_fresh_numbers import cycle_figure

pytestmark = pytest.mark.django_db


def _ledger_usage(workspace, start, end):
    rows = LedgerEntry.objects.filter(
        workspace=workspace, kind=EntryKind.USAGE, created_at__gte=start, created_at__lt=end,
    )
    return -(rows.aggregate(s=Sum("amount_micro"))["s"] or 0)


def test_the_demo_shows_one_figure_for_this_cycle_on_every_page(client):
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    people = teams_demo.seed()
    workspace = people.workspace
    usage = cycle_usage(workspace.pk)
    expected = _ledger_usage(workspace, usage.window.start, usage.window.end)
    history = _ledger_usage(workspace, usage.window.start.replace(year=2000), usage.window.end)
    assert usage.used_micro == expected
    assert 0 < expected < history  # the demo has 90 days of usage, only part of it this cycle
    shown = (Decimal(expected) / MICRO).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    client.force_login(people.owner)
    dashboard = client.get("/")
    keys = client.get("/settings/api-keys/")
    usage_page = client.get("/usage/?range=cycle")
    billing = client.get("/settings/billing/")
    for response in (dashboard, keys, usage_page, billing):
        assert response.status_code == 200
        assert cycle_figure(response.content.decode()) == shown, response.request["PATH_INFO"]

    # The keys' own "Credits this cycle" add up to the same figure (no 90-day sums).
    assert sum(key.cycle_spend_micro or 0 for key in keys.context["keys"]) == expected
    assert len(keys.context["keys"]) == len(apikeys_demo.DEMO_KEYS)
    # The Usage page's current cycle (tables and total) covers the same charges.
    assert usage_page.context["total_micro"] == expected
    assert usage_page.context["start"] == usage.window.start.date()
