"""No page of the seeded demo scrolls sideways at 1366 or 390 px, no table hides a column
behind its own scrollbar on a laptop, and on a phone a key's Revoke button is on screen."""

import pytest
from django.core.management import call_command

from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = [
    "/", "/usage/", "/usage/?request=demo_missing", "/settings/api-keys/", "/settings/team/",
    "/settings/billing/", "/settings/billing/invoices/", "/settings/billing/ledger/",
]
WIDTHS = (1366, 390)


@pytest.fixture
def demo(page):
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    log_in(page, "owner@acme.test", "meterdesk-demo")
    return page


def _overflowing_tables(page):
    """The tables that scroll inside their card: a column of them is cut off."""
    return page.evaluate(
        "[...document.querySelectorAll('.table-wrap')].filter(w => w.scrollWidth > w.clientWidth + 1)"
        ".map(w => w.closest('section')?.querySelector('h2')?.textContent || w.innerHTML.slice(0, 80))"
    )


def test_no_page_scrolls_sideways_and_no_column_is_cut_on_a_laptop(demo, screenshot):
    page = demo
    wide = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for path in PAGES:
            response = page.goto(path)
            assert response.status == 200, path
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            if scroll_width > width:
                wide.append(f"{path} is {scroll_width} px wide at {width}")
            if width == 1366 and _overflowing_tables(page):
                wide.append(f"{path} at 1366 cuts the columns of {_overflowing_tables(page)}")
        screenshot(page, f"page-widths-{width}")
    assert wide == []


def test_on_a_phone_each_key_shows_its_credits_and_revoke_button_on_screen(demo, screenshot):
    page = demo
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/settings/api-keys/")
    buttons = page.get_by_role("button", name="Revoke")
    assert buttons.count() == 3
    for n in range(buttons.count()):
        box = buttons.nth(n).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    credits = page.locator(".keys-table td[data-label='Credits this cycle']").first.bounding_box()
    assert credits["x"] + credits["width"] <= 390
    screenshot(page, "api-keys-phone-stacked-390")
