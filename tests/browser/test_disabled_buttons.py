"""A button that can't be used looks it, in the light and the dark theme, and says why."""

import pytest

from tests.browser.conftest import log_in
from tests.factories import PASSWORD, UserFactory, WorkspaceFactory, add_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOOK = """(el) => {
  const style = getComputedStyle(el);
  const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = (c) => {
    const [r, g, b] = rgb(c).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [a, b] = [lum(style.color), lum(style.backgroundColor)].sort((x, y) => y - x);
  return {cursor: style.cursor, contrast: (a + 0.05) / (b + 0.05)};
}"""


def look(locator):
    return locator.evaluate(LOOK)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_disabled_button_has_no_pointer_less_contrast_and_its_reason_beside_it(page, screenshot, scheme):
    owner = UserFactory(email="last-owner@example.com")
    WorkspaceFactory(owner=owner, name="Solo")
    page.emulate_media(color_scheme=scheme)
    log_in(page, owner.email, PASSWORD)
    page.goto("/settings/team/")

    leave = page.get_by_role("button", name="Leave Solo")
    enabled = page.get_by_role("button", name="Rename")
    disabled_look, enabled_look = look(leave), look(enabled)
    assert leave.get_attribute("aria-disabled") == "true"
    assert disabled_look["cursor"] == "not-allowed" and enabled_look["cursor"] == "pointer"
    assert disabled_look["contrast"] < enabled_look["contrast"] * 0.75, (disabled_look, enabled_look)
    assert disabled_look["contrast"] >= 3  # dimmed, still readable
    reason = page.locator("#" + leave.get_attribute("aria-describedby"))
    assert reason.is_visible() and "Make someone else an owner first" in reason.inner_text()
    leave.focus()  # reachable from the keyboard, so the reason is heard
    assert leave.is_disabled()  # what assistive technology is told
    leave.click(force=True)
    assert page.url.endswith("/settings/team/")
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 860})
        screenshot(page, f"disabled-leave-{scheme}-{width}")


def test_a_member_is_told_who_can_invite(page, screenshot):
    owner = UserFactory(email="boss@example.com")
    workspace = WorkspaceFactory(owner=owner, name="Crew")
    member = add_member(workspace, "crew-member@example.com", "member")
    page.emulate_media(color_scheme="dark")
    log_in(page, member.email, PASSWORD)
    page.goto("/settings/team/")
    invite = page.get_by_role("button", name="Send invitation")
    assert look(invite)["cursor"] == "not-allowed"
    assert page.get_by_text("Only owners and admins can invite people.").is_visible()
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 860})
        screenshot(page, f"disabled-invite-dark-{width}")
