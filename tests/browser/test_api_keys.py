"""A member creates a key, copies it, the gateway authorizes it, the member revokes it."""

import pytest

from apikeys.services import service_token_create
from billing.ledger import ledger_post
from billing.models import EntryKind
from billing.money import MICRO
from tests.browser.conftest import log_in
from tests.factories import PASSWORD, UserFactory, WorkspaceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def authorize(page, token, secret):
    return page.request.post(
        "/api/v1/gateway/authorize",
        data={"api_key": secret},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_create_copy_use_revoke_and_see_it_refused(page, screenshot):
    owner = UserFactory(email="keys-owner@example.com")
    workspace = WorkspaceFactory(owner=owner, name="Keys Inc")
    ledger_post(workspace=workspace, kind=EntryKind.ADJUSTMENT, amount_micro=50 * MICRO, memo="test")
    _token, token = service_token_create(name="browser-gateway")

    log_in(page, owner.email, PASSWORD)
    page.goto("/settings/api-keys/")
    page.get_by_text("No keys yet").wait_for()
    screenshot(page, "api-keys-empty")

    page.get_by_role("button", name="Create key").first.click()
    page.get_by_label("Name").fill("Production")
    page.get_by_role("dialog").get_by_role("button", name="Create key").click()
    page.get_by_text("It will not be shown again", exact=True).wait_for()
    secret = page.get_by_label("Secret key").input_value()
    assert secret.startswith("mdk_live_")
    assert page.get_by_label("For your shell").input_value() == f"export METERDESK_API_KEY={secret}"

    page.locator('[data-copy="new-key-secret"]').click()
    page.get_by_role("button", name="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    screenshot(page, "api-keys-created")

    allowed = authorize(page, token, secret)
    assert allowed.status == 200 and allowed.json()["workspace"] == workspace.slug

    page.goto("/settings/api-keys/")
    assert secret not in page.content()
    page.get_by_role("row", name="Production").get_by_role("button", name="Revoke").click()
    dialog = page.get_by_role("dialog", name="Revoke “Production”?")
    dialog.get_by_text("stops every request that uses it, immediately").wait_for()
    screenshot(page, "api-keys-revoke-dialog")
    dialog.get_by_role("button", name="Revoke key").click()
    page.get_by_text("Revoked “Production”").wait_for()
    page.get_by_role("row", name="Production").get_by_text("Revoked").wait_for()
    screenshot(page, "api-keys-revoked")

    refused = authorize(page, token, secret)
    assert refused.status == 401 and refused.json()["error"]["code"] == "invalid_api_key"


def test_reloading_the_page_after_creating_a_key_makes_no_second_key(page, screenshot):
    from apikeys.models import APIKey

    owner = UserFactory(email="reload-owner@example.com")
    workspace = WorkspaceFactory(owner=owner, name="Reload Inc")
    log_in(page, owner.email, PASSWORD)
    page.goto("/settings/api-keys/")
    page.get_by_role("button", name="Create key").first.click()
    page.get_by_label("Name").fill("Once")
    page.get_by_role("dialog").get_by_role("button", name="Create key").click()
    secret = page.get_by_label("Secret key").input_value()

    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 860})
        screenshot(page, f"api-keys-created-{width}")

    page.reload()  # the browser sends the same POST again
    page.get_by_text("This key was already created").wait_for()
    assert secret not in page.content()
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 860})
        screenshot(page, f"api-keys-reloaded-after-create-{width}")
    assert APIKey.objects.filter(workspace=workspace).count() == 1
    page.go_back()
    assert APIKey.objects.filter(workspace=workspace).count() == 1
