"""The Usage page's chart (stacked by product or by key; 7/30/90 days or this cycle; the
cycle's included credits as a line) and a key's own page."""

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
def two_keys(api_key, workspace, owner):
    key, _ = api_key
    batch, _ = key_create(workspace=workspace, user=owner, name="Batch jobs")
    now = timezone.now()
    usage_record_batch([event(key, "a1", quantity={"pages": 2})], now=now - timedelta(days=2))
    usage_record_batch([
        event(key, "a2", quantity={"pages": 1}),
        event(batch, "b1", product="image.cat", tier="hi", quantity={"images": 3}),
        event(batch, "b2", quantity={"pages": 5}),
    ], now=now)
    rollup_run()
    return key, batch


def _bars(chart):
    return {trace["name"] for trace in chart["data"] if trace["type"] == "bar"}


def _lines(chart):
    return {trace["name"]: trace for trace in chart["data"] if trace["type"] == "scatter"}


def test_the_chart_stacks_by_product_or_by_key(client_for, owner, two_keys):
    client = client_for(owner)
    by_product = client.get("/usage/?range=7&split=product")
    by_key = client.get("/usage/?range=7&split=key")
    assert _bars(by_product.context["chart"]) == {"document.invoice", "image.cat"}
    assert _bars(by_key.context["chart"]) == {"CI", "Batch jobs"}
    assert by_product.context["chart"]["layout"]["barmode"] == "stack"
    html = by_product.content.decode()
    assert 'href="/usage/?range=7&amp;split=key"' in html  # the toggle keeps the range
    assert 'aria-current="true" data-split="product"' in html


@pytest.mark.parametrize("choice, days", [("7", 7), ("30", 30), ("90", 90)])
def test_the_chart_covers_7_30_or_90_days(client_for, owner, two_keys, choice, days):
    chart = client_for(owner).get(f"/usage/?range={choice}").context["chart"]
    [trace, *_] = [t for t in chart["data"] if t["type"] == "bar"]
    assert len(trace["x"]) == days
    assert trace["x"][-1] == timezone.now().date().isoformat()


def test_the_current_cycle_with_its_included_credits_as_a_line(client_for, owner, workspace, two_keys):
    account = workspace.billing
    account.custom_included_credits = 500
    account.save(update_fields=["custom_included_credits"])
    response = client_for(owner).get("/usage/?range=cycle&split=key")
    chart = response.context["chart"]
    cycle_start = response.context["start"]
    assert response.context["end"] == timezone.now().date()
    bars = [t for t in chart["data"] if t["type"] == "bar"]
    assert bars[0]["x"][0] == cycle_start.isoformat()
    lines = _lines(chart)
    included = lines["Included credits (500)"]
    assert included["y"] == ["500", "500"] and included["yaxis"] == "y2"
    assert included["x"][0] < bars[0]["x"][0] <= bars[0]["x"][-1] < included["x"][-1]
    used = lines["Used this cycle"]
    # Today 2 + 12 + 10 credits, and 4 two days ago if the cycle had begun by then.
    expected = "28" if cycle_start <= timezone.now().date() - timedelta(days=2) else "24"
    assert used["y"][-1] == expected
    assert "included credits" in response.content.decode()


def test_no_included_credits_no_line(client_for, owner, workspace, two_keys):
    account = workspace.billing
    account.custom_included_credits = 0
    account.save(update_fields=["custom_included_credits"])
    chart = client_for(owner).get("/usage/?range=cycle").context["chart"]
    assert _lines(chart) == {}


def test_a_keys_own_page_shows_its_chart_requests_and_credits(client_for, owner, two_keys):
    key, batch = two_keys
    client = client_for(owner)
    keys_page = client.get("/settings/api-keys/").content.decode()
    assert f'href="/usage/keys/{batch.public_id}/"' in keys_page
    # Charged after the roll-up ran: the key's page counts it at once, as the Usage page does.
    usage_record_batch([event(batch, "b3", product="audio.call", quantity={"audio_seconds": 60})])
    response = client.get(f"/usage/keys/{batch.public_id}/?range=7")
    assert response.status_code == 200
    assert _bars(response.context["chart"]) == {"image.cat", "document.invoice", "audio.call"}
    assert (response.context["total_requests"], response.context["total_micro"]) == (3, 23_000_000)
    assert response.context["cycle_spend_micro"] == 23_000_000
    html = response.content.decode()
    assert "Batch jobs" in html and 'href="/usage/receipt/?request=b1"' in html
    assert "a1" not in [e.event_id for e in response.context["recent"]]  # the other key's


def test_another_workspaces_key_page_is_a_404(client_for, outsider, two_keys):
    _key, batch = two_keys
    give_credits(outsider.memberships.get().workspace, 1)
    assert client_for(outsider).get(f"/usage/keys/{batch.public_id}/").status_code == 404
