"""The forecast reads as a sentence on the dashboard and the Usage page, at 1366 and 390 px."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apikeys.services import key_create
from billing.money import MICRO
from tests.browser.conftest import log_in
from tests.factories import PASSWORD, UserFactory, WorkspaceFactory, give_credits
from usage.models import DailyUsage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_forecast_says_how_long_the_balance_lasts(page, screenshot):
    owner = UserFactory(email="forecast@example.com")
    workspace = WorkspaceFactory(owner=owner, name="Forecast Inc")
    give_credits(workspace, 1_500)
    key, _ = key_create(workspace=workspace, user=owner, name="Production")
    today = timezone.now().date()
    for days_ago in range(1, 8):
        DailyUsage.objects.create(workspace=workspace, key=key, product="document.invoice",
                                  day=today - timedelta(days=days_ago), requests=50,
                                  billed_requests=50, credits_micro=100 * MICRO)

    log_in(page, owner.email, PASSWORD)
    for width, path, name in ((1366, "/", "dashboard"), (390, "/", "dashboard"), (1366, "/usage/", "usage"),
                              (390, "/usage/", "usage")):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(path)
        runway = page.locator("[data-forecast=runway]")
        assert "about 15 days" in runway.inner_text()
        assert "100.00 credits a day" in runway.inner_text()
        assert page.get_by_role("heading", name="Forecast").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (path, width)
        screenshot(page, f"forecast-{name}-{width}")
