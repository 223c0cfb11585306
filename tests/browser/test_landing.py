"""Where people land who have no workspace: staff get the way to the admin."""

import pytest

from tests.browser.conftest import log_in
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_without_a_workspace_land_on_a_page_that_leads_to_the_admin(page, screenshot):
    staff = UserFactory(email="staff-landing@meterdesk.test")
    staff.is_staff = staff.is_superuser = True
    staff.save(update_fields=["is_staff", "is_superuser"])

    log_in(page, staff.email, PASSWORD)
    page.get_by_role("heading", name="Meterdesk staff").wait_for()
    assert "removed from every workspace" not in page.content()
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 860})
        screenshot(page, f"staff-landing-{width}")
    page.get_by_role("link", name="Open the admin").click()
    page.wait_for_url("**/admin/")
    page.get_by_role("heading", name="Site administration").wait_for()
