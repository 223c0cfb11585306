"""Fresh numbers: a charge shows on every page and in the usage API at the very next
request, before any roll-up runs (roll-ups up to the watermark + the events after it)."""

import re
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.utils import timezone

from billing.money import MICRO
from tests.usage.metering_helpers import *  # noqa: F401,F403
from tests.usage.metering_helpers import event
from usage.models import DailyUsage, RollupState
from usage.rollup import rollup_run
from usage.services import usage_record, usage_record_batch

pytestmark = pytest.mark.django_db

FIGURE = re.compile(r"data-cycle-used[^>]*>(.*?)</(?:p|span)>", re.S)


def cycle_figure(html):
    """The "used this cycle" figure a page shows (the first amount in its marked element),
    to the hundredth: pages show two places, some more where the amount has them."""
    [text] = FIGURE.findall(html)
    amount = re.search(r"\d[\d,]*\.\d+", re.sub(r"<[^>]+>", "", text)).group(0)
    return Decimal(amount.replace(",", "")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def api_usage(client, secret, group_by="day"):
    return client.get(f"/api/v1/usage?group_by={group_by}", HTTP_AUTHORIZATION=f"Bearer {secret}").json()


def test_a_charge_through_the_usage_endpoint_shows_at_the_next_request(
    client_for, owner, api_key, gateway, workspace,
):
    key, secret = api_key
    client = client_for(owner)
    # A first visit: the pages ask for a roll-up (run at once in tests) and then not again
    # for a minute, as in production where the worker runs it every few minutes.
    first = client.get("/").content.decode()
    assert cycle_figure(first) == 0
    watermark = RollupState.objects.get(name="daily").watermark

    answer = gateway(event(key, "req_fresh_1", quantity={"pages": 3}))
    assert answer.status_code == 200, answer.content
    gateway(event(key, "req_fresh_2", quantity={"pages": 2}))

    dashboard = client.get("/").content.decode()
    assert cycle_figure(dashboard) == Decimal("10.00")
    assert "req_fresh_2" in dashboard and "No usage yet" not in dashboard
    usage_page = client.get("/usage/").content.decode()
    assert "2 requests · 10.00 credits" in usage_page
    assert cycle_figure(usage_page) == Decimal("10.00")
    keys_page = client.get("/settings/api-keys/").content.decode()
    assert cycle_figure(keys_page) == Decimal("10.00")
    billing_page = client.get("/settings/billing/").content.decode()
    assert cycle_figure(billing_page) == Decimal("10.00")
    for group_by in ("day", "key", "product"):
        body = api_usage(client, secret, group_by)
        assert body["total_credits"] == "10.000000", group_by
        assert sum(row["requests"] for row in body["rows"]) == 2
    assert api_usage(client, secret, "product")["rows"][0]["quantity"] == {"pages": "5"}

    # None of it came from a roll-up: none ran since the first visit.
    assert RollupState.objects.get(name="daily").watermark == watermark
    assert not DailyUsage.objects.exists()


def test_rolled_up_and_live_events_are_each_counted_once(client, api_key, workspace):
    key, secret = api_key
    usage_record_batch([event(key, "before_1"), event(key, "before_2", quantity={"pages": 1})])
    rollup_run()
    usage_record(event(key, "after_1", quantity={"pages": 4}))
    body = api_usage(client, secret, "day")
    [today] = body["rows"]
    assert today["requests"] == 3
    assert today["quantity"] == {"pages": "8"}
    assert body["total_credits"] == "16.000000"
    rollup_run()  # the same figures once everything is rolled up
    assert api_usage(client, secret, "day") == body


@pytest.mark.parametrize("read", ["api", "chart"])
def test_a_rollup_committing_in_the_middle_of_a_read_counts_nothing_twice(client, api_key, workspace, monkeypatch, read):
    """A read's statements see the roll-up as it is when each runs: a run committing right
    after the read took the watermark must not count its events in its rows and again live."""
    from usage import reports

    key, secret = api_key
    usage_record_batch([event(key, "race_1"), event(key, "race_2", quantity={"pages": 1})])
    watermark_now = reports.rollup_watermark
    runs = []

    def a_run_commits_right_after(*args):
        seen = watermark_now()
        if not runs:
            runs.append(rollup_run())
        return seen

    monkeypatch.setattr(reports, "rollup_watermark", a_run_commits_right_after)
    if read == "api":
        [today] = api_usage(client, secret, "day")["rows"]
        assert (today["requests"], today["quantity"], today["credits"]) == (2, {"pages": "4"}, "8.000000")
    else:
        series, _days = reports.daily_series(workspace, start=timezone.now().date(), end=timezone.now().date())
        assert series == {"Credits": [8 * MICRO]}
    assert runs  # the run did happen in the middle


def test_an_event_priced_after_the_rollup_moves_to_its_charge_day_at_once(client, api_key, workspace):
    from pricing.models import Price
    from usage.models import UsageEvent
    from usage.repricing import unpriced_event_charge

    key, secret = api_key
    received = timezone.now() - timedelta(days=3)
    usage_record_batch([event(key, "late", product="hologram.render", quantity={"images": 2})], now=received)
    rollup_run()
    Price.objects.create(product="hologram.*", unit="image", meter="hologram", scheme="flat", price=5)
    assert unpriced_event_charge(UsageEvent.objects.get(event_id="late")) is True

    start = (received - timedelta(days=1)).date().isoformat()
    days = {row["day"]: row for row in client.get(
        f"/api/v1/usage?group_by=day&start={start}", HTTP_AUTHORIZATION=f"Bearer {secret}",
    ).json()["rows"]}
    assert days[timezone.now().date().isoformat()]["credits"] == "10.000000"
    assert days[timezone.now().date().isoformat()]["requests"] == 1
    assert days[received.date().isoformat()]["requests"] == 0  # not counted twice
    rollup_run()
    after = {row["day"]: row for row in client.get(
        f"/api/v1/usage?group_by=day&start={start}", HTTP_AUTHORIZATION=f"Bearer {secret}",
    ).json()["rows"]}
    assert after[timezone.now().date().isoformat()] == days[timezone.now().date().isoformat()]
    assert received.date().isoformat() not in after


def test_the_daily_chart_shows_a_charge_before_any_rollup(client_for, owner, api_key, workspace):
    from usage.reports import daily_series

    key, _ = api_key
    client_for(owner).get("/usage/")  # the roll-up this visit asked for has run
    usage_record(event(key, "chart_1", quantity={"pages": 1}))
    today = timezone.now().date()
    series, days = daily_series(workspace, start=today - timedelta(days=6), end=today, split_by="product")
    assert series == {"document.invoice": [0] * 6 + [2 * MICRO]}
    assert days[-1] == today
