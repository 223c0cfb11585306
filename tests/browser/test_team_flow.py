"""A newcomer signs up, confirms, invites a colleague, who joins from the link; then is removed."""

import re

import pytest
from django.core import mail

from teams.models import Membership

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-browser-passphrase-9"


def link_from_last_mail(live_server, pattern):
    body = mail.outbox[-1].body
    return re.search(re.escape(live_server.url) + pattern, body).group(0).replace(live_server.url, "")


def log_in_as(page, email):
    from tests.browser.conftest import log_in
    from tests.factories import PASSWORD as FACTORY_PASSWORD

    log_in(page, email, FACTORY_PASSWORD)


def sign_up(page, email):
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()


def test_newcomer_invites_a_colleague_who_joins_and_is_removed(browser, page, live_server, screenshot):
    # The newcomer signs up and opens the confirmation link from the mail.
    page.goto("/accounts/signup/")
    sign_up(page, "founder@startup.test")
    page.get_by_role("heading", name="Check your e-mail").wait_for()
    page.goto(link_from_last_mail(live_server, r"/accounts/confirm-email/[^/\s]+/"))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(lambda url: "/accounts/" not in url)

    # ... and invites a colleague from the Team page.
    page.goto("/settings/team/")
    page.get_by_label("E-mail address").fill("colleague@startup.test")
    page.get_by_label("Role", exact=True).select_option("admin")
    page.get_by_role("button", name="Send invitation").click()
    page.get_by_text("Invited colleague@startup.test as admin.").wait_for()
    assert page.get_by_role("cell", name="colleague@startup.test", exact=True).is_visible()
    invite_path = link_from_last_mail(live_server, r"/invites/[^/\s]+/")

    # The colleague opens the link in their own browser, signs up and lands in the team.
    colleague_context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    colleague = colleague_context.new_page()
    colleague.set_default_timeout(10_000)
    colleague.goto(invite_path)
    colleague.get_by_role("heading", name="Join Founder's workspace").wait_for()
    colleague.get_by_role("link", name="Sign up as colleague@startup.test").click()
    assert colleague.get_by_label("Email").input_value() == "colleague@startup.test"
    sign_up(colleague, "colleague@startup.test")
    # Signing up through the link joins: no second step, no workspace of their own.
    colleague.get_by_text("Welcome to Founder's workspace. You joined as admin.").wait_for()
    assert colleague.url.endswith("/settings/team/")
    assert colleague.get_by_text("founder@startup.test").is_visible()
    memberships = Membership.objects.filter(user__email="colleague@startup.test")
    assert [m.workspace.name for m in memberships] == ["Founder's workspace"]

    # The owner sees them in the team (screenshots at desktop and phone width) ...
    page.goto("/settings/team/")
    page.get_by_role("cell", name="colleague@startup.test", exact=True).wait_for()
    screenshot(page, "team-desktop-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "team-phone-390")
    page.set_viewport_size({"width": 1280, "height": 860})

    # ... and removes them, after a confirmation that names what happens.
    page.get_by_role("link", name="Remove colleague@startup.test").click()
    page.get_by_role("heading", name="Remove colleague@startup.test from Founder's workspace?").wait_for()
    screenshot(page, "team-remove-confirm")
    page.get_by_role("button", name="Remove member").click()
    page.get_by_text("Removed colleague@startup.test from Founder's workspace.").wait_for()
    assert page.get_by_role("cell", name="colleague@startup.test", exact=True).count() == 0

    colleague.goto("/settings/team/")
    assert colleague.get_by_text("founder@startup.test").count() == 0
    colleague_context.close()


def test_an_invited_newcomer_makes_a_workspace_of_their_own_from_the_switcher(browser, page, live_server, screenshot):
    from tests.factories import UserFactory, WorkspaceFactory

    owner = UserFactory(email="lead@bigco.test")
    WorkspaceFactory(owner=owner, name="BigCo")
    log_in_as(page, owner.email)
    page.goto("/settings/team/")
    page.get_by_label("E-mail address").fill("newhire@bigco.test")
    page.get_by_role("button", name="Send invitation").click()
    invite_path = link_from_last_mail(live_server, r"/invites/[^/\s]+/")
    page.context.clear_cookies()

    page.goto(invite_path)
    page.get_by_role("link", name="Sign up as newhire@bigco.test").click()
    sign_up(page, "newhire@bigco.test")
    page.get_by_text("Welcome to BigCo. You joined as member.").wait_for()

    page.locator(".switcher summary").click()
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 860})
        screenshot(page, f"switcher-new-workspace-{width}")
    page.get_by_role("menuitem", name="New workspace").click()
    page.get_by_role("heading", name="New workspace").wait_for()
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 860})
        screenshot(page, f"new-workspace-page-{width}")
    page.get_by_label("Workspace name").fill("Side Project")
    page.get_by_role("button", name="Create workspace").click()
    page.get_by_text("Created Side Project. You are its owner.").wait_for()
    # The sign-up bonus waited for the first workspace of their own.
    page.goto("/settings/billing/")
    page.get_by_text("100.00", exact=False).first.wait_for()
