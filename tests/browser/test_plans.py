"""In Chromium, through the payment sandbox: an owner saves a card and turns on auto-recharge;
an owner upgrades to Pro and sees the pro cycle. Screenshots at 1366 and 390 px wide."""

import pytest

from billing.models import AutoRecharge, BillingAccount, BillingCycle, Subscription
from tests.browser.conftest import log_in
from tests.factories import PASSWORD, UserFactory, WorkspaceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shots(page, screenshot, name):
    for width, height in ((1366, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        screenshot(page, f"{name}-{width}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"sideways scroll at {width}px"
    page.set_viewport_size({"width": 1366, "height": 900})


def owner_on_billing_page(page, name):
    """A new workspace `name`; its owner logged in, on the Billing page. Returns the workspace."""
    owner = UserFactory(email=f"{name.split()[0].lower()}-owner@example.com")
    workspace = WorkspaceFactory(owner=owner, name=name)
    log_in(page, owner.email, PASSWORD)
    page.goto("/settings/billing/")
    return workspace


def test_owner_saves_a_card_and_turns_on_auto_recharge(page, screenshot):
    workspace = owner_on_billing_page(page, "Recharge Co")
    page.get_by_role("button", name="Save a card").click()
    page.get_by_text("Test payment").first.wait_for()
    page.get_by_role("button", name="Save card").click()
    page.goto("/settings/billing/")
    page.get_by_text("•••• 4242").first.wait_for()

    form = page.locator("#auto-recharge")
    form.get_by_label("Add credits automatically when the balance runs low").check()
    form.get_by_label("When the balance falls below (credits)").fill("500")
    form.get_by_label("Add (USD)").fill("50")
    form.get_by_label("Max per month").fill("3")
    form.get_by_role("button", name="Save auto-recharge").click()
    page.get_by_text("Auto-recharge is on: 5,000 credits are added when the balance falls below 500").wait_for()
    settings = AutoRecharge.objects.get(workspace=workspace)
    assert (settings.enabled, settings.threshold_credits, settings.amount_credits, settings.monthly_cap) == (True, 500, 5_000, 3)
    page.locator("#auto-recharge").scroll_into_view_if_needed()
    shots(page, screenshot, "billing-auto-recharge")


def test_owner_upgrades_to_pro_in_the_sandbox_and_sees_the_pro_cycle(page, screenshot):
    workspace = owner_on_billing_page(page, "Upgrade Co")
    page.get_by_role("button", name="Upgrade to Pro").click()
    page.get_by_role("heading", name="Subscribe: USD 799.00 a month").wait_for()
    shots(page, screenshot, "sandbox-subscribe")
    page.get_by_role("button", name="Pay USD 799.00").click()
    page.get_by_text("Welcome to Pro").wait_for()
    assert page.get_by_role("heading", name="Plan: Pro").is_visible()
    page.get_by_text("Subscription: Active").wait_for()
    account = BillingAccount.objects.get(workspace=workspace)
    assert account.plan.code == "pro" and account.fee_billed_by_stripe
    assert Subscription.objects.get(workspace=workspace).status == "active"
    cycle = BillingCycle.objects.get(workspace=workspace, closed_at__isnull=True)
    assert cycle.plan.code == "pro"
    included = page.locator(".stat", has_text="Included credits left this cycle")
    assert "100,000.00" in included.inner_text()  # granted when the sandbox reported the invoice paid
    shots(page, screenshot, "billing-pro")
