"""In Chromium: the receipt reached from the Usage page's lookup."""

import pytest

from apikeys.services import key_create
from tests.browser.conftest import log_in
from tests.factories import PASSWORD, UserFactory, WorkspaceFactory, give_credits
from usage.services import usage_record_batch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


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
    page.goto("/usage/")
    page.get_by_label("Request id").fill("req_receipt_1")
    page.get_by_role("button", name="Look up").click()
    page.get_by_role("link", name="Open the receipt").click()
    page.wait_for_url("**/usage/receipt/?request=req_receipt_1")
    assert page.get_by_role("heading", name="Receipt req_receipt_1").is_visible()
    formula = page.locator(".receipt-formula").first.inner_text()
    assert formula == "3 pages × 4 credits (tier hi) = 12.000000 credits"
    assert page.locator("tfoot").inner_text().split()[-1] == "18.000000"
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"receipt-{width}")
