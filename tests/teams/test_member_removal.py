"""Removal and leaving go through one place that tells other apps, inside the transaction."""

import pytest

from teams.models import Membership, Role
from teams.services import TeamError, member_leave, member_remove, ownership_transfer, workspace_rename
from teams.signals import member_removal_consequences, member_removed

pytestmark = pytest.mark.django_db


@pytest.fixture
def removed_events():
    events = []

    def receiver(sender, workspace, user, actor, **kwargs):
        events.append((workspace.name, user.email, actor.email))

    member_removed.connect(receiver)
    yield events
    member_removed.disconnect(receiver)


def test_removal_tells_other_apps_who_was_removed_and_by_whom(workspace, owner, member, removed_events):
    member_remove(workspace=workspace, actor=owner, user=member)
    assert removed_events == [("Acme", "member@example.com", "owner@example.com")]


def test_leaving_tells_other_apps_too(workspace, member, removed_events):
    member_leave(workspace=workspace, user=member)
    assert removed_events == [("Acme", "member@example.com", "member@example.com")]


def test_a_failing_receiver_keeps_the_member(workspace, owner, member):
    def broken(**kwargs):
        raise RuntimeError("could not revoke keys")

    member_removed.connect(broken)
    try:
        with pytest.raises(RuntimeError):
            member_remove(workspace=workspace, actor=owner, user=member)
    finally:
        member_removed.disconnect(broken)
    assert Membership.objects.filter(workspace=workspace, user=member).exists()


def test_confirmation_page_lists_what_other_apps_will_do(client, workspace, owner, member):
    def keys(workspace, user, **kwargs):
        return [f"API key “CI” (mdk_abc…) of {user.email} will be revoked"]

    member_removal_consequences.connect(keys)
    try:
        client.force_login(owner)
        pk = Membership.objects.get(workspace=workspace, user=member).pk
        html = client.get(f"/settings/team/members/{pk}/remove/").content.decode()
    finally:
        member_removal_consequences.disconnect(keys)
    assert "Remove member@example.com from Acme?" in html
    assert "API key “CI” (mdk_abc…) of member@example.com will be revoked" in html
    assert Membership.objects.filter(workspace=workspace, user=member).exists()  # GET changes nothing


def test_removing_someone_not_in_the_workspace_is_refused(workspace, owner, outsider):
    with pytest.raises(TeamError, match="not a member of Acme"):
        member_remove(workspace=workspace, actor=owner, user=outsider)


def test_transfer_makes_the_target_owner_and_the_actor_admin(workspace, owner, member):
    ownership_transfer(workspace=workspace, actor=owner, user=member)
    roles = dict(Membership.objects.filter(workspace=workspace).values_list("user__email", "role"))
    assert roles["member@example.com"] == Role.OWNER and roles["owner@example.com"] == Role.ADMIN


def test_rename_refuses_an_empty_name(workspace, owner):
    with pytest.raises(TeamError, match="Give the workspace a name"):
        workspace_rename(workspace=workspace, actor=owner, name="   ")


def test_after_leaving_the_last_workspace_the_dashboard_offers_a_new_one(client, workspace, member):
    Membership.objects.filter(user=member).exclude(workspace=workspace).delete()
    client.force_login(member)
    response = client.post("/settings/team/leave/", follow=True)
    assert "You are not in a workspace" in response.content.decode()


def test_staff_without_a_workspace_are_sent_to_the_admin_not_told_they_left(client, db):
    from tests.factories import UserFactory

    staff = UserFactory(email="staff@meterdesk.test")
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    client.force_login(staff)
    html = client.get("/").content.decode()
    assert 'href="/admin/"' in html and "Open the admin" in html
    assert "removed from every workspace" not in html
