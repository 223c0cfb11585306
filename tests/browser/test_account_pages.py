"""The account pages as a person sees them: the product's layout and words at 1366 and 390."""

import pytest

from tests.browser.conftest import log_in
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_log_in_sign_up_and_account_pages_read_like_meterdesk(page, screenshot):
    UserFactory(email="reader@example.com")
    for path, heading, name in [
        ("/accounts/login/", "Log in to Meterdesk", "login"),
        ("/accounts/signup/", "Create your Meterdesk account", "signup"),
        ("/accounts/password/reset/", "Reset your password", "password-reset"),
    ]:
        page.goto(path)
        page.get_by_role("heading", name=heading).wait_for()
        assert "Sign In" not in page.content() and "Sign Up" not in page.content()
        for width in (1366, 390):
            page.set_viewport_size({"width": width, "height": 860})
            screenshot(page, f"account-{name}-{width}")
            assert page.evaluate("document.documentElement.scrollWidth") <= width

    page.set_viewport_size({"width": 1366, "height": 860})
    log_in(page, "reader@example.com", PASSWORD)
    page.get_by_text("Logged in as reader@example.com.").wait_for()
    page.goto("/accounts/email/")
    page.get_by_role("heading", name="E-mail address").wait_for()
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 860})
        screenshot(page, f"account-email-{width}")
