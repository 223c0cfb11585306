import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from billing.ledger import workspace_balance
from billing.models import EntryKind, LedgerEntry
from billing.money import MICRO
from teams.models import Invitation, Membership, Role, Workspace
from teams.selectors import SESSION_KEY
from teams.services import TeamError, invitation_accept, invitation_create, token_hash
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def invite(workspace, actor, email="new@example.com", role=Role.MEMBER):
    return invitation_create(
        workspace=workspace, actor=actor, email=email, role=role, base_url="http://testserver/"
    )


def link_in(message):
    return re.search(r"http://testserver(/invites/[^/\s]+/)", message.body).group(1)


def test_invitation_mail_has_an_absolute_link_and_only_a_hash_is_stored(workspace, owner):
    invitation, token = invite(workspace, owner)
    assert invitation.token_hash == token_hash(token) and token not in invitation.token_hash
    assert len(token) >= 40
    assert timedelta(days=6, hours=23) < invitation.expires_at - timezone.now() <= timedelta(days=7)
    message = mail.outbox[0]
    assert message.to == ["new@example.com"]
    assert "owner@example.com invited you to Acme" in message.subject
    assert f"http://testserver/invites/{token}/" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and f'href="http://testserver/invites/{token}/"' in html


def test_accepting_joins_with_the_invited_role_and_switches_workspace(client, workspace, owner, outsider):
    _, token = invite(workspace, owner, email="outsider@example.com", role=Role.ADMIN)
    client.force_login(outsider)
    page = client.get(f"/invites/{token}/")
    assert "Join Acme" in page.content.decode()
    response = client.post(f"/invites/{token}/", follow=True)
    assert Membership.objects.get(workspace=workspace, user=outsider).role == Role.ADMIN
    assert client.session[SESSION_KEY] == workspace.pk
    html = response.content.decode()
    assert "Welcome to Acme. You joined as admin." in html
    assert response.redirect_chain[-1][0] == "/settings/team/"


def test_a_token_works_once(client, workspace, owner, outsider):
    _, token = invite(workspace, owner, email="outsider@example.com")
    invitation_accept(token=token, user=outsider)
    Membership.objects.filter(workspace=workspace, user=outsider).delete()  # removed later
    client.force_login(outsider)
    response = client.post(f"/invites/{token}/", follow=True)
    assert "has already been used" in response.content.decode()
    assert not Membership.objects.filter(workspace=workspace, user=outsider).exists()


def test_an_expired_invitation_is_refused(client, workspace, owner, outsider):
    invitation, token = invite(workspace, owner, email="outsider@example.com")
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    client.force_login(outsider)
    assert "expired on" in client.get(f"/invites/{token}/").content.decode()
    client.post(f"/invites/{token}/")
    assert not Membership.objects.filter(workspace=workspace, user=outsider).exists()


def test_a_wrong_account_is_told_which_email_the_invitation_is_for(client, workspace, owner, outsider):
    _, token = invite(workspace, owner, email="someone.else@example.com")
    client.force_login(outsider)
    html = client.get(f"/invites/{token}/").content.decode()
    assert "This invitation is for someone.else@example.com, but you are logged in as outsider@example.com" in html
    assert "Log out and continue as someone.else@example.com" in html
    client.post(f"/invites/{token}/")
    assert not Membership.objects.filter(workspace=workspace, user=outsider).exists()
    assert not Invitation.objects.get().accepted_at


def test_a_cancelled_invitation_is_refused(client, workspace, owner, outsider):
    invitation, token = invite(workspace, owner, email="outsider@example.com")
    client.force_login(owner)
    client.post(f"/settings/team/invitations/{invitation.pk}/cancel/")
    client.force_login(outsider)
    assert "was cancelled" in client.get(f"/invites/{token}/").content.decode()
    with pytest.raises(TeamError):
        invitation_accept(token=token, user=outsider)


def test_an_unknown_token_says_the_link_is_not_valid(client, db):
    assert "not valid" in client.get("/invites/nonsense/").content.decode()


def test_resend_replaces_the_link(client, workspace, owner, outsider):
    invitation, old_token = invite(workspace, owner, email="outsider@example.com")
    client.force_login(owner)
    client.post(f"/settings/team/invitations/{invitation.pk}/resend/")
    new_link = link_in(mail.outbox[-1])
    assert old_token not in new_link
    client.force_login(outsider)
    assert "not valid" in client.get(f"/invites/{old_token}/").content.decode()
    client.post(new_link)
    assert Membership.objects.filter(workspace=workspace, user=outsider).exists()


def test_inviting_a_member_or_a_pending_address_again_is_refused(client, workspace, owner, member):
    client.force_login(owner)
    response = client.post("/settings/team/invite/", {"email": "member@example.com", "role": "member"}, follow=True)
    assert "member@example.com is already a member of Acme." in response.content.decode()
    client.post("/settings/team/invite/", {"email": "new@example.com", "role": "member"})
    response = client.post("/settings/team/invite/", {"email": "NEW@example.com", "role": "admin"}, follow=True)
    assert "already has a pending invitation" in response.content.decode()
    assert Invitation.objects.count() == 1


def test_a_bad_address_is_shown_on_the_form(client, workspace, owner):
    client.force_login(owner)
    response = client.post("/settings/team/invite/", {"email": "not-an-address", "role": "member"})
    assert response.status_code == 400
    assert "Enter a valid email address." in response.content.decode()


# --- newcomers ---------------------------------------------------------------------------

def test_logged_out_visitor_is_offered_sign_up_and_log_in_that_come_back(client, workspace, owner):
    _, token = invite(workspace, owner, email="newbie@example.com")
    html = client.get(f"/invites/{token}/").content.decode()
    assert "log in as newbie@example.com" in html
    assert f"/accounts/signup/?next=/invites/{token}/" in html
    assert f"/accounts/login/?next=/invites/{token}/" in html


def test_newcomer_signs_up_from_the_invitation_and_lands_in_the_inviting_workspace(client, workspace, owner):
    _, token = invite(workspace, owner, email="newbie@example.com")
    client.get(f"/invites/{token}/")
    signup = client.get(f"/accounts/signup/?next=/invites/{token}/&email=newbie@example.com")
    assert 'value="newbie@example.com"' in signup.content.decode()
    response = client.post("/accounts/signup/", {
        "email": "newbie@example.com", "password1": PASSWORD, "password2": PASSWORD,
        "next": f"/invites/{token}/",
    }, follow=True)
    # The link proved the mailbox: no confirmation e-mail, and signing up through it joins.
    assert response.redirect_chain[-1][0] == "/settings/team/"
    html = response.content.decode()
    assert f"Welcome to {workspace.name}. You joined as member." in html
    newbie = Membership.objects.get(user__email="newbie@example.com")  # the only membership
    assert newbie.workspace == workspace and newbie.role == Role.MEMBER
    assert client.session[SESSION_KEY] == workspace.pk
    assert Workspace.objects.count() == 1  # no workspace of their own, so no credits of its own
    assert not LedgerEntry.objects.filter(reference=f"signup-bonus:user:{newbie.user_id}").exists()


def test_an_invited_newcomer_gets_the_sign_up_bonus_on_the_first_workspace_they_create(client, workspace, owner):
    _, token = invite(workspace, owner, email="newbie@example.com", role=Role.OWNER)
    client.get(f"/invites/{token}/")
    client.post("/accounts/signup/", {
        "email": "newbie@example.com", "password1": PASSWORD, "password2": PASSWORD,
        "next": f"/invites/{token}/",
    })
    newbie = Membership.objects.get(user__email="newbie@example.com").user
    assert workspace_balance(workspace.pk) == 0  # joining (even as owner) brings no bonus

    response = client.post("/workspaces/new/", {"name": "Newbie Labs"}, follow=True)
    assert "Created Newbie Labs. You are its owner." in response.content.decode()
    own = Workspace.objects.get(name="Newbie Labs")
    assert workspace_balance(own.pk) == 100 * MICRO
    bonus = LedgerEntry.objects.get(kind=EntryKind.SIGNUP_BONUS, workspace=own)
    assert bonus.reference == f"signup-bonus:user:{newbie.pk}"

    client.post("/workspaces/new/", {"name": "Second Labs"})  # once per person, not per workspace
    assert workspace_balance(Workspace.objects.get(name="Second Labs").pk) == 0
    assert workspace_balance(workspace.pk) == 0


def test_an_opened_invitation_page_after_joining_leads_into_the_workspace(client, workspace, owner):
    _, token = invite(workspace, owner, email="newbie@example.com")
    client.get(f"/invites/{token}/")
    client.post("/accounts/signup/", {
        "email": "newbie@example.com", "password1": PASSWORD, "password2": PASSWORD,
    })
    response = client.get(f"/invites/{token}/")
    assert response.status_code == 302 and response["Location"] == "/settings/team/"


def test_newcomer_with_another_address_confirms_it_and_comes_back(client, workspace, owner):
    _, token = invite(workspace, owner, email="newbie@example.com")
    client.get(f"/invites/{token}/")
    mail.outbox.clear()
    response = client.post("/accounts/signup/", {
        "email": "private@example.org", "password1": PASSWORD, "password2": PASSWORD,
        "next": f"/invites/{token}/",
    })
    assert response["Location"] == "/accounts/confirm-email/"  # a confirmation is required
    confirm_path = re.search(r"http://testserver(/accounts/confirm-email/[^/\s]+/)", mail.outbox[0].body).group(1)
    response = client.post(confirm_path)
    assert response["Location"] == f"/invites/{token}/"
    html = client.get(f"/invites/{token}/").content.decode()
    assert "This invitation is for newbie@example.com, but you are logged in as private@example.org" in html


def test_existing_user_logs_in_from_the_invitation_and_comes_back(client, workspace, owner):
    _, token = invite(workspace, owner, email="known@example.com")
    UserFactory(email="known@example.com")
    response = client.post("/accounts/login/", {
        "login": "known@example.com", "password": PASSWORD, "next": f"/invites/{token}/",
    })
    assert response["Location"] == f"/invites/{token}/"


def test_the_invitation_subject_is_plain_text(owner):
    from tests.factories import WorkspaceFactory

    workspace = WorkspaceFactory(owner=owner, name="A & B <Labs>")
    invite(workspace, owner)
    subject = mail.outbox[0].subject
    assert subject == "[Meterdesk] owner@example.com invited you to A & B <Labs>"
