"""A person turns an alert off with the keyboard; the Billing page's Alerts card fits a phone."""

import pytest

from billing.models import AlertKind, AlertOptOut
from tests.browser.conftest import log_in
from tests.factories import PASSWORD, UserFactory, WorkspaceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_turning_an_alert_off_and_setting_the_threshold(page, screenshot):
    owner = UserFactory(email="alerts-owner@example.com")
    WorkspaceFactory(owner=owner, name="Alert Co")
    log_in(page, owner.email, PASSWORD)

    page.goto("/")
    page.locator(".usermenu summary").click()
    page.get_by_role("menuitem", name="Alerts").click()
    spike = page.get_by_label("Usage spike")
    assert spike.is_checked()
    spike.focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Save").click()
    assert "Alert e-mails saved: 4 of 5 on." in page.locator("body").inner_text()
    assert list(AlertOptOut.objects.filter(user=owner).values_list("kind", flat=True)) == [AlertKind.USAGE_SPIKE]
    assert not page.get_by_label("Usage spike").is_checked()
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        screenshot(page, f"alert-preferences-{width}")

    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto("/settings/billing/")
    page.get_by_label("Low-balance alert below (credits)").fill("2500")
    page.get_by_role("button", name="Save threshold").click()
    assert "an e-mail when the balance falls below 2,500 credits" in page.locator("body").inner_text()
    assert "below 2,500.00 credits" in page.locator("#alerts").inner_text()
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.locator("#alerts").screenshot(path=str(screenshot(page, f"billing-page-{width}").with_name(f"billing-alerts-{width}.png")))
