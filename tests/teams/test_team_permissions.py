"""docs/design.md "Who may do what", every team row, for owner, admin, member and outsider.

Each test goes through the page (as a person would) and checks what changed in the database.
The outsider is logged in to a workspace of their own, where they are owner: reaching
into Acme by id must be a 404, and there is no URL that acts on Acme without an id.
"""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from teams.models import Invitation, Membership, Role
from teams.services import invitation_create

pytestmark = pytest.mark.django_db

ROLES = ["owner", "admin", "member", "outsider"]


def role_of(workspace, user):
    m = Membership.objects.filter(workspace=workspace, user=user).first()
    return m.role if m else None


def membership(workspace, user):
    return Membership.objects.get(workspace=workspace, user=user)


@pytest.fixture
def pending(workspace, owner):
    invitation, _ = invitation_create(
        workspace=workspace, actor=owner, email="pending@example.com", role=Role.MEMBER,
        base_url="http://testserver/", send=False,
    )
    return invitation


# --- see team ------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ROLES)
def test_everyone_in_the_workspace_sees_the_team(who, as_role, client, workspace, pending):
    client.force_login(as_role(who))
    page = client.get("/settings/team/")
    assert page.status_code == 200
    html = page.content.decode()
    if who == "outsider":
        assert "member@example.com" not in html and "pending@example.com" not in html
        assert "outsider@example.com" in html  # their own team instead
    else:
        assert "member@example.com" in html and "admin@example.com" in html
        assert "pending@example.com" in html


def test_logged_out_visitor_is_sent_to_log_in(client, workspace):
    response = client.get("/settings/team/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- invite members and admins; resend or cancel invitations -------------------------------

@pytest.mark.parametrize("who, allowed", [("owner", True), ("admin", True), ("member", False)])
@pytest.mark.parametrize("role", ["member", "admin"])
def test_invite_members_and_admins(who, allowed, role, as_role, client, workspace):
    client.force_login(as_role(who))
    response = client.post("/settings/team/invite/", {"email": "New@Example.com", "role": role}, follow=True)
    invited = Invitation.objects.filter(workspace=workspace, email="new@example.com", role=role)
    assert invited.exists() is allowed
    assert (len(mail.outbox) == 1) is allowed
    if not allowed:
        assert "Only owners and admins can invite people." in response.content.decode()


def test_outsider_cannot_invite_into_acme(client, outsider, workspace):
    client.force_login(outsider)
    client.post("/settings/team/invite/", {"email": "x@example.com", "role": "member"})
    assert not workspace.invitations.exists()  # the invite went to their own workspace, if anywhere


@pytest.mark.parametrize("who, allowed", [("owner", True), ("admin", True), ("member", False)])
def test_resend_invitation(who, allowed, as_role, client, workspace, pending):
    old_hash, old_expiry = pending.token_hash, pending.expires_at
    client.force_login(as_role(who))
    response = client.post(f"/settings/team/invitations/{pending.pk}/resend/", follow=True)
    pending.refresh_from_db()
    assert (pending.token_hash != old_hash) is allowed
    assert (pending.expires_at > old_expiry) is allowed
    assert (len(mail.outbox) == 1) is allowed
    if not allowed:
        assert "Only owners and admins can resend or cancel invitations." in response.content.decode()


@pytest.mark.parametrize("who, allowed", [("owner", True), ("admin", True), ("member", False)])
def test_cancel_invitation(who, allowed, as_role, client, workspace, pending):
    client.force_login(as_role(who))
    confirm = client.get(f"/settings/team/invitations/{pending.pk}/cancel/")
    assert confirm.status_code == (200 if allowed else 403)
    client.post(f"/settings/team/invitations/{pending.pk}/cancel/")
    pending.refresh_from_db()
    assert (pending.cancelled_at is not None) is allowed


# --- invite owners; change roles; transfer ownership (owners only) -------------------------

@pytest.mark.parametrize("who, allowed", [("owner", True), ("admin", False), ("member", False)])
def test_invite_owners(who, allowed, as_role, client, workspace):
    client.force_login(as_role(who))
    page = client.get("/settings/team/").content.decode()
    assert ('<option value="owner"' in page) is allowed  # offered only to owners
    client.post("/settings/team/invite/", {"email": "boss@example.com", "role": "owner"})
    assert workspace.invitations.filter(role=Role.OWNER).exists() is allowed


@pytest.mark.parametrize("who, allowed", [("owner", True), ("admin", False), ("member", False)])
def test_change_roles(who, allowed, as_role, client, workspace, other_member):
    target = membership(workspace, other_member)
    client.force_login(as_role(who))
    response = client.post(f"/settings/team/members/{target.pk}/role/", {"role": "admin"}, follow=True)
    assert (role_of(workspace, other_member) == Role.ADMIN) is allowed
    if not allowed:
        assert "Only owners can change roles." in response.content.decode()


@pytest.mark.parametrize("who", ["owner", "admin", "member"])
def test_nobody_grants_themselves_a_role(who, as_role, client, workspace):
    user = as_role(who)
    client.force_login(user)
    before = role_of(workspace, user)
    target = "member" if who == "owner" else "owner"
    client.post(f"/settings/team/members/{membership(workspace, user).pk}/role/", {"role": target})
    assert role_of(workspace, user) == before


@pytest.mark.parametrize("who, allowed", [("owner", True), ("admin", False), ("member", False)])
def test_transfer_ownership(who, allowed, as_role, client, workspace, other_member):
    actor = as_role(who)
    target = membership(workspace, other_member)
    client.force_login(actor)
    assert client.get(f"/settings/team/members/{target.pk}/transfer/").status_code == (200 if allowed else 403)
    client.post(f"/settings/team/members/{target.pk}/transfer/")
    assert (role_of(workspace, other_member) == Role.OWNER) is allowed
    if allowed:
        assert role_of(workspace, actor) == Role.ADMIN


# --- remove ------------------------------------------------------------------------------

@pytest.mark.parametrize("who, allowed", [("owner", True), ("admin", True), ("member", False)])
def test_remove_a_member(who, allowed, as_role, client, workspace, other_member):
    target = membership(workspace, other_member)
    client.force_login(as_role(who))
    confirm = client.get(f"/settings/team/members/{target.pk}/remove/")
    assert confirm.status_code == (200 if allowed else 403)
    response = client.post(f"/settings/team/members/{target.pk}/remove/", follow=True)
    assert (role_of(workspace, other_member) is None) is allowed
    if allowed:
        assert "Removed member2@example.com from Acme." in response.content.decode()


@pytest.mark.parametrize("target_fixture", ["other_admin", "co_owner"])
@pytest.mark.parametrize("who, allowed", [("owner", True), ("admin", False), ("member", False)])
def test_remove_an_admin_or_an_owner(who, allowed, target_fixture, as_role, client, workspace, request):
    target_user = request.getfixturevalue(target_fixture)
    target = membership(workspace, target_user)
    client.force_login(as_role(who))
    response = client.post(f"/settings/team/members/{target.pk}/remove/", follow=True)
    assert (role_of(workspace, target_user) is None) is allowed
    if not allowed:
        assert "Only owners" in response.content.decode()


def test_the_last_owner_is_never_removed(client, workspace, owner, co_owner):
    # co_owner removes owner: allowed (two owners) ...
    client.force_login(co_owner)
    client.post(f"/settings/team/members/{membership(workspace, owner).pk}/remove/")
    assert role_of(workspace, owner) is None
    # ... and now nobody can remove co_owner, the last owner (not even a returning admin).
    Membership.objects.create(workspace=workspace, user=owner, role=Role.ADMIN)
    client.force_login(owner)
    client.post(f"/settings/team/members/{membership(workspace, co_owner).pk}/remove/")
    assert role_of(workspace, co_owner) == Role.OWNER


def test_the_last_owner_is_never_demoted(client, workspace, owner, co_owner):
    client.force_login(co_owner)
    client.post(f"/settings/team/members/{membership(workspace, owner).pk}/role/", {"role": "admin"})
    assert role_of(workspace, owner) == Role.ADMIN
    client.force_login(owner)  # now an admin: cannot demote the remaining owner
    client.post(f"/settings/team/members/{membership(workspace, co_owner).pk}/role/", {"role": "member"})
    assert role_of(workspace, co_owner) == Role.OWNER


# --- leave -------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["admin", "member"])
def test_admins_and_members_can_leave(who, as_role, client, workspace):
    user = as_role(who)
    client.force_login(user)
    assert client.get("/settings/team/leave/").status_code == 200
    response = client.post("/settings/team/leave/", follow=True)
    assert role_of(workspace, user) is None
    assert "You left Acme." in response.content.decode()


def test_an_owner_can_leave_when_another_owner_remains(client, workspace, owner, co_owner):
    client.force_login(owner)
    client.post("/settings/team/leave/")
    assert role_of(workspace, owner) is None


def test_the_last_owner_cannot_leave(client, workspace, owner, member):
    client.force_login(owner)
    page = client.get("/settings/team/").content.decode()
    assert "so you cannot leave it yet" in page
    response = client.post("/settings/team/leave/", follow=True)
    assert role_of(workspace, owner) == Role.OWNER
    assert "You are the last owner of Acme" in response.content.decode()


# --- rename ------------------------------------------------------------------------------

@pytest.mark.parametrize("who, allowed", [("owner", True), ("admin", True), ("member", False)])
def test_rename_the_workspace(who, allowed, as_role, client, workspace):
    slug = workspace.slug
    client.force_login(as_role(who))
    response = client.post("/settings/team/rename/", {"name": "Acme Labs"}, follow=True)
    workspace.refresh_from_db()
    assert (workspace.name == "Acme Labs") is allowed
    assert workspace.slug == slug  # never changes
    if not allowed:
        assert "Only owners and admins can rename the workspace." in response.content.decode()


def test_outsider_renames_only_their_own_workspace(client, outsider, workspace):
    client.force_login(outsider)
    client.post("/settings/team/rename/", {"name": "Hijacked"})
    workspace.refresh_from_db()
    assert workspace.name == "Acme"


# --- only the actions the viewer may take are shown ---------------------------------------

@pytest.mark.parametrize("who, sees", [
    ("owner", {"invite", "resend", "role", "remove"}),
    ("admin", {"invite", "resend", "remove"}),
    ("member", set()),
])
def test_team_page_shows_only_permitted_actions(who, sees, as_role, client, workspace, pending, other_member):
    client.force_login(as_role(who))
    html = client.get("/settings/team/").content.decode()
    shown = {
        "invite": 'action="/settings/team/invite/"' in html,  # members see it disabled, with why
        "resend": "/resend/" in html,
        "role": "/role/" in html,
        "remove": "/remove/" in html,
    }
    assert {name for name, present in shown.items() if present} == sees


def test_admin_is_not_offered_removing_admins_or_owners(client, workspace, admin_user, other_admin, owner):
    client.force_login(admin_user)
    html = client.get("/settings/team/").content.decode()
    assert f"/members/{membership(workspace, other_admin).pk}/remove/" not in html
    assert f"/members/{membership(workspace, owner).pk}/remove/" not in html


def test_expired_invitation_is_listed_as_expired(client, workspace, owner, pending):
    Invitation.objects.filter(pk=pending.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    client.force_login(owner)
    assert "Expired" in client.get("/settings/team/").content.decode()
