"""The dashboard at /: balance card, cycle usage, chart, recent requests, alerts."""

import pytest

from tests.usage.metering_helpers import *  # noqa: F401,F403
from tests.usage.metering_helpers import event, give_credits
from usage.services import usage_record

pytestmark = pytest.mark.django_db


def test_without_usage_it_says_what_to_do(client_for, owner, workspace):
    page = client_for(owner).get("/").content.decode()
    assert "No usage yet. Create an API key and send a request." in page
    assert "Balance" in page and "Cycle resets on" in page
    assert "plotly.min.js" not in page


def test_with_usage_it_shows_the_chart_and_recent_requests(client_for, owner, api_key, workspace):
    key, _ = api_key
    usage_record(event(key, "req_dash_1", quantity={"pages": 5}))
    page = client_for(owner).get("/").content.decode()
    assert "req_dash_1" in page
    assert 'id="dashboard-chart-data"' in page and "plotly.min.js" in page
    assert "10.00" in page  # used this cycle, from the roll-up the page triggered


def test_out_of_credits_is_an_alert(client_for, owner, api_key, workspace):
    key, _ = api_key
    usage_record(event(key, "big", quantity={"pages": 600}))  # more than the 1,000 credits
    page = client_for(owner).get("/").content.decode()
    assert "Out of credits" in page


def test_a_low_balance_is_a_warning(client_for, owner, workspace):
    give_credits(workspace, 5)
    page = client_for(owner).get("/").content.decode()
    assert "Your balance is low" in page


def test_plotly_is_served_from_our_origin(client):
    from django.contrib.staticfiles import finders

    assert finders.find("plotly/plotly.min.js")
    assert finders.find("js/usage-chart.js")
