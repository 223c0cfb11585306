"""On a phone (390 px) a wide table stacks its rows (or scrolls inside its card); the page
itself never scrolls sideways, not even by the screen-reader-only labels in a table's last
column."""

import pytest

from apikeys.services import key_create
from tests.browser.conftest import log_in
from tests.factories import PASSWORD, UserFactory, WorkspaceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_keys_table_fits_the_phone_not_only_the_page(page, screenshot):
    owner = UserFactory(email="phone-owner@example.com")
    workspace = WorkspaceFactory(owner=owner, name="Phone Inc")
    for name in ("Production", "Staging", "Notebook experiments"):
        key_create(workspace=workspace, user=owner, name=name)

    log_in(page, owner.email, PASSWORD)
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/settings/api-keys/", "/settings/team/", "/settings/billing/"):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
    page.goto("/settings/api-keys/")
    wrap = page.locator(".table-wrap").first
    # Each key is a stack of "heading: value" lines: nothing hides behind a scrollbar.
    assert wrap.evaluate("el => el.scrollWidth <= el.clientWidth")
    revoke = page.get_by_role("button", name="Revoke").first.bounding_box()
    assert revoke["x"] + revoke["width"] <= 390
    screenshot(page, "api-keys-phone-390")
    # Just above a phone's width, beside the sidebar, the table is a table again and scrolls
    # inside its card: a keyboard reaches it to scroll it, a screen reader by name (axe's
    # scrollable-region-focusable); a wrap that does not scroll stays out of the tab order.
    page.set_viewport_size({"width": 800, "height": 844})
    page.wait_for_function("() => document.querySelector('.table-wrap').hasAttribute('tabindex')")
    assert wrap.evaluate("el => el.scrollWidth > el.clientWidth")  # the table does scroll, inside
    assert wrap.get_attribute("tabindex") == "0" and wrap.get_attribute("role") == "region"
    assert wrap.get_attribute("aria-label").endswith("(scrolls sideways)")
    wrap.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('.table-wrap').scrollLeft > 0")
    page.set_viewport_size({"width": 1366, "height": 844})
    page.wait_for_function("() => !document.querySelector('.table-wrap').hasAttribute('tabindex')")
