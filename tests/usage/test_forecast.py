"""The run-out forecast (docs/api.md's `forecast`): its arithmetic, and where people see it."""

from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.utils import timezone

from apikeys.services import key_create
from billing.models import BillingAccount, BillingMode
from billing.money import MICRO
from tests.usage.metering_helpers import *  # noqa: F401,F403
from tests.usage.metering_helpers import event, give_credits
from usage.forecast import forecast_compute
from usage.models import DailyUsage
from usage.services import usage_record

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=dt_timezone.utc)
CYCLE_END = datetime(2026, 12, 1, tzinfo=dt_timezone.utc)  # 2.5 days after NOW


def compute(**given):
    values = dict(window_micro=0, days_since_first_usage=30, used_cycle_micro=0, balance_micro=0,
                  included_remaining_micro=0, overage_limit_micro=None, now=NOW, cycle_end=CYCLE_END)
    values.update(given)
    return forecast_compute(**values)


# --- the arithmetic -------------------------------------------------------------------------


def test_no_usage_has_no_rate_and_no_days_left():
    forecast = compute(balance_micro=500 * MICRO, used_cycle_micro=0)
    assert forecast.daily_rate_micro == 0 and forecast.days_left is None
    assert forecast.projected_cycle_spend_micro == 0


def test_a_prepaid_balance_lasts_floor_of_balance_over_the_7_day_rate():
    # 700 credits over the last 7 days: 100 a day; 1,050 credits last 10 whole days.
    forecast = compute(window_micro=700 * MICRO, balance_micro=1_050 * MICRO)
    assert forecast.daily_rate_micro == 100 * MICRO
    assert forecast.days_left == 10


def test_a_fresh_workspace_is_averaged_over_the_days_it_has_existed():
    # First usage three days ago: 300 credits are 100 a day, not 300 / 7.
    forecast = compute(window_micro=300 * MICRO, days_since_first_usage=3, balance_micro=1_000 * MICRO)
    assert forecast.window_days == 3 and forecast.daily_rate_micro == 100 * MICRO
    assert forecast.days_left == 10


def test_a_workspace_whose_first_usage_is_today_has_no_rate_yet():
    forecast = compute(window_micro=0, days_since_first_usage=0, balance_micro=1_000 * MICRO,
                       used_cycle_micro=40 * MICRO)
    assert forecast.days_left is None and forecast.daily_rate_micro == 0
    assert forecast.projected_cycle_spend_micro == 40 * MICRO


def test_pay_as_you_go_counts_the_overage_allowance_left():
    # 300 credits below zero of a 10,000 limit: 9,700 may still be spent, at 100 a day.
    forecast = compute(window_micro=700 * MICRO, balance_micro=-300 * MICRO, overage_limit_micro=10_000 * MICRO)
    assert forecast.days_left == 97
    # With credits left the whole allowance is still there: 500 + 1,000 at 100 a day.
    assert compute(window_micro=700 * MICRO, balance_micro=500 * MICRO,
                   overage_limit_micro=1_000 * MICRO).days_left == 15


def test_past_the_overage_limit_nothing_is_left():
    assert compute(window_micro=700 * MICRO, balance_micro=-1_200 * MICRO,
                   overage_limit_micro=1_000 * MICRO).days_left == 0


def test_the_projected_spend_adds_the_rate_over_the_time_left_in_the_cycle():
    # 1,000 used so far, 100 a day for the 2.5 days left: 1,250.
    forecast = compute(window_micro=700 * MICRO, used_cycle_micro=1_000 * MICRO, balance_micro=10 * MICRO)
    assert forecast.projected_cycle_spend_micro == 1_250 * MICRO


def test_the_rate_is_exact_to_the_micro_credit():
    # 1 micro-credit a week is 1/7 micro-credit a day: shown as 0, and still a rate.
    forecast = compute(window_micro=10, balance_micro=MICRO)
    assert forecast.daily_rate_micro == 1 and forecast.days_left == MICRO * 7 // 10


def test_included_credits_that_cover_the_rest_of_the_cycle_say_so():
    assert compute(window_micro=700 * MICRO, balance_micro=900 * MICRO,
                   included_remaining_micro=250 * MICRO).included_cover_cycle
    assert not compute(window_micro=700 * MICRO, balance_micro=900 * MICRO,
                       included_remaining_micro=249 * MICRO).included_cover_cycle


# --- from the roll-ups to the API and the pages ----------------------------------------------


def _usage_on(workspace, key, days_ago, credits, product="document.invoice"):
    """A roll-up row: the forecast reads usage from the roll-ups, never the raw events."""
    DailyUsage.objects.create(workspace=workspace, key=key, product=product,
                              day=timezone.now().date() - timedelta(days=days_ago),
                              requests=1, billed_requests=1, credits_micro=credits * MICRO)


def _balance(client, secret):
    return client.get("/api/v1/balance", HTTP_AUTHORIZATION=f"Bearer {secret}").json()


@pytest.mark.django_db
def test_the_balance_api_answers_the_forecast(client, api_key, workspace):
    key, secret = api_key  # 1,000 credits
    for days_ago in range(1, 8):
        _usage_on(workspace, key, days_ago, 50)  # 350 in the last 7 full days: 50 a day
    _usage_on(workspace, key, 0, 999)  # today's usage is not in the rate
    _usage_on(workspace, key, 8, 999)  # nor the day before the window
    forecast = _balance(client, secret)["forecast"]
    assert forecast["daily_rate"] == "50.000000"
    assert forecast["days_left"] == 20
    assert set(forecast) == {"daily_rate", "days_left", "projected_cycle_spend"}


@pytest.mark.django_db
def test_a_fresh_workspace_answers_a_null_forecast(client, workspace, owner):
    _key, secret = key_create(workspace=workspace, user=owner, name="new")
    forecast = _balance(client, secret)["forecast"]
    assert forecast == {"daily_rate": "0.000000", "days_left": None, "projected_cycle_spend": "0.000000"}


@pytest.mark.django_db
def test_pay_as_you_go_days_left_include_the_overage_limit(client, api_key, workspace):
    key, secret = api_key  # 1,000 credits
    BillingAccount.objects.filter(workspace=workspace).update(
        billing_mode=BillingMode.PAY_AS_YOU_GO, overage_limit=2_000)
    _usage_on(workspace, key, 1, 300)  # first usage yesterday: 300 a day
    assert _balance(client, secret)["forecast"]["days_left"] == 10  # (1,000 + 2,000) / 300


@pytest.mark.django_db
def test_the_dashboard_and_usage_page_say_how_long_the_balance_lasts(client_for, owner, api_key, workspace):
    key, _ = api_key
    give_credits(workspace, 500)  # 1,500 credits
    for days_ago in range(1, 8):
        _usage_on(workspace, key, days_ago, 100)
    client = client_for(owner)
    for page in (client.get("/").content.decode(), client.get("/usage/").content.decode()):
        assert "the last 7 days' rate" in page
        assert "100.00 credits a day" in page
        assert "about 15 days" in page
        assert "Projected spend to the cycle's end" in page


@pytest.mark.django_db
def test_without_usage_the_pages_say_there_is_no_rate_yet(client_for, owner, workspace):
    page = client_for(owner).get("/").content.decode()
    assert "no rate to forecast from yet" in page


@pytest.mark.django_db
def test_a_charge_today_counts_in_the_projected_spend_not_the_rate(client, api_key, workspace):
    key, secret = api_key
    usage_record(event(key, "today", quantity={"pages": 5}))  # 10 credits today
    from usage.rollup import rollup_run

    rollup_run()
    forecast = _balance(client, secret)["forecast"]
    assert forecast["days_left"] is None
    assert forecast["projected_cycle_spend"] == "10.000000"
