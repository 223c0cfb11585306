"""In Chromium: the receipt from the Usage page's lookup, the chart's toggle, a key's page
and the statement.

The Usage page loads plotly (3.5 MB) from the live server: navigations wait for the
document, not every script, and the chart's SVG is waited for on its own, with time to
spare on a busy machine."""

import pytest

from apikeys.services import key_create
from tests.browser.conftest import log_in
from tests.factories import PASSWORD, UserFactory, WorkspaceFactory, give_credits
from usage.services import usage_record_batch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
READY = "domcontentloaded"


@pytest.fixture
def page(page):
    page.set_default_timeout(30_000)
    return page


@pytest.fixture
def with_usage():
    owner = UserFactory(email="insight-owner@example.com")
    workspace = WorkspaceFactory(owner=owner, name="Insight Inc")
    give_credits(workspace, 1000)
    key, _ = key_create(workspace=workspace, user=owner, name="Production")
    usage_record_batch([
        {"id": "req_receipt_1", "key_id": key.public_id, "product": "document.invoice", "tier": "hi",
         "grounding": True, "quantity": {"pages": 3}, "metadata": {"user": "u_42"}},
        {"id": "req_audio_1", "key_id": key.public_id, "product": "audio.call",
         "quantity": {"audio_seconds": 740}},
    ])
    return owner, workspace, key


@pytest.mark.parametrize("width", [1366, 390])
def test_the_lookup_opens_the_receipt(page, screenshot, with_usage, width):
    owner, _workspace, _key = with_usage
    log_in(page, owner.email, PASSWORD)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/usage/", wait_until=READY)
    page.get_by_label("Request id").fill("req_receipt_1")
    page.get_by_role("button", name="Look up").click()
    page.get_by_role("link", name="Open the receipt").click()
    page.wait_for_url("**/usage/receipt/?request=req_receipt_1", wait_until=READY)
    assert page.get_by_role("heading", name="Receipt req_receipt_1").is_visible()
    formula = page.locator(".receipt-formula").first.inner_text()
    assert formula == "3 pages × 4 credits (tier hi) = 12.000000 credits"
    assert page.locator("tfoot").inner_text().split()[-1] == "18.000000"
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"receipt-{width}")


def _bar_traces(page, chart="#usage-chart"):
    """(how many bar traces draw a bar of some height, the legend's names) of the plotly SVG."""
    page.wait_for_selector(f"{chart} svg.main-svg g.barlayer g.trace.bars path", state="attached")
    drawn = page.eval_on_selector_all(
        f"{chart} g.barlayer g.trace.bars",
        "traces => traces.filter(t => [...t.querySelectorAll('path')].some("
        "p => p.getBoundingClientRect().height > 0)).length",
    )
    legend = page.eval_on_selector_all(f"{chart} g.legend g.traces text.legendtext", "t => t.map(e => e.textContent)")
    return drawn, legend


@pytest.mark.parametrize("width", [1366, 390])
def test_the_chart_toggle_draws_bars_by_product_then_by_key(page, screenshot, with_usage, width):
    owner, workspace, _key = with_usage
    second, _ = key_create(workspace=workspace, user=owner, name="Nightly batch")
    usage_record_batch([{"id": "req_batch_1", "key_id": second.public_id, "product": "image.receipt",
                         "quantity": {"images": 2}}])
    account = workspace.billing
    account.custom_included_credits = 100
    account.save(update_fields=["custom_included_credits"])
    log_in(page, owner.email, PASSWORD)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/usage/?range=cycle", wait_until=READY)
    bars, legend = _bar_traces(page)
    assert bars == 3 and {"document.invoice", "audio.call", "image.receipt"} <= set(legend)
    assert "Included credits (100)" in legend
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"usage-by-product-{width}")
    page.get_by_role("link", name="API key", exact=True).click()
    page.wait_for_url("**split=key", wait_until=READY)
    bars, legend = _bar_traces(page)
    assert bars == 2 and {"Production", "Nightly batch"} <= set(legend)
    screenshot(page, f"usage-by-key-{width}")
    for days in ("7", "30", "90"):
        page.goto(f"/usage/?range={days}&split=key", wait_until=READY)
        assert _bar_traces(page)[0] == 2, days


def test_a_keys_page_from_the_api_keys_page(page, screenshot, with_usage):
    owner, _workspace, key = with_usage
    log_in(page, owner.email, PASSWORD)
    page.goto("/settings/api-keys/", wait_until=READY)
    page.get_by_role("link", name="Production").click()
    page.wait_for_url(f"**/usage/keys/{key.public_id}/", wait_until=READY)
    assert _bar_traces(page, "#key-chart")[0] == 2  # document.invoice and audio.call
    assert page.get_by_role("link", name="req_receipt_1").is_visible()
    screenshot(page, "key-page-1366")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload(wait_until=READY)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "key-page-390")


@pytest.mark.parametrize("width", [1366, 390])
def test_the_statement_page_from_billing(page, screenshot, with_usage, width):
    owner, _workspace, _key = with_usage
    log_in(page, owner.email, PASSWORD)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/settings/billing/", wait_until=READY)
    page.get_by_role("link", name="Statement").click()
    page.wait_for_url("**/settings/billing/statement/", wait_until=READY)
    assert page.get_by_role("heading", name="Statement", exact=True).is_visible()
    assert page.locator('[data-amount="usage"]').inner_text().startswith("−")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"statement-{width}")
