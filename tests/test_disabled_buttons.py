"""Every button that can't be used says next to it why and what to do (templates/)."""

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
BUTTON = re.compile(r"<button\b[^>]*>", re.S)


def test_every_disabled_button_in_the_templates_points_to_its_reason():
    found = []
    for path in TEMPLATES.rglob("*.html"):
        for tag in BUTTON.findall(path.read_text()):
            if re.search(r"\bdisabled\b", tag.replace("aria-disabled", "")) or "aria-disabled" in tag:
                found.append((path.relative_to(TEMPLATES), tag))
    assert found, "the disabled-button component is gone"
    for path, tag in found:
        assert "aria-describedby=" in tag, f"{path}: a disabled button without its reason: {tag}"


def test_the_last_owner_sees_why_they_cannot_leave_and_what_to_do(client_for, owner, workspace):
    html = client_for(owner).get("/settings/team/").content.decode()
    assert 'aria-disabled="true" aria-describedby="leave-workspace-why">Leave Acme</button>' in html
    assert '<span class="disabled-why" id="leave-workspace-why">You are the last owner of Acme' in html
    assert "Make someone else an owner first" in html


def test_a_member_sees_why_they_cannot_invite(client_for, member):
    html = client_for(member).get("/settings/team/").content.decode()
    assert 'aria-describedby="invite-why">Send invitation</button>' in html
    assert "Only owners and admins can invite people. Ask one of them" in html
