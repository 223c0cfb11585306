import re

import pytest
from django.core import mail

from teams.models import Membership, Role
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def sign_up(client, email="newcomer@example.com"):
    return client.post("/accounts/signup/", {"email": email, "password1": PASSWORD, "password2": PASSWORD})


def confirmation_path(message):
    return re.search(r"http://testserver(/accounts/confirm-email/[^/\s]+/)", message.body).group(1)


def test_sign_up_makes_the_users_own_workspace_with_them_as_owner(client):
    sign_up(client)
    membership = Membership.objects.get(user__email="newcomer@example.com")
    assert membership.role == Role.OWNER
    assert membership.workspace.name == "Newcomer's workspace"


def test_e_mail_must_be_confirmed_before_using_the_app(client):
    response = sign_up(client)
    assert response["Location"] == "/accounts/confirm-email/"
    assert client.get("/settings/team/").status_code == 302  # not logged in yet
    assert len(mail.outbox) == 1
    client.post(confirmation_path(mail.outbox[0]))
    page = client.get("/settings/team/")
    assert page.status_code == 200 and "newcomer@example.com" in page.content.decode()


def test_logging_in_before_confirming_sends_to_the_confirmation_page(client):
    UserFactory(email="pending@example.com", verified=False)
    response = client.post("/accounts/login/", {"login": "pending@example.com", "password": PASSWORD})
    assert response["Location"] == "/accounts/confirm-email/"


def test_e_mail_is_the_login(client):
    UserFactory(email="ada@example.com")
    response = client.post("/accounts/login/", {"login": "ADA@example.com", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"


def test_sign_up_with_a_taken_address_does_not_reveal_it(client):
    """Enumeration prevention: the same answer as a new address; the owner gets a mail instead."""
    UserFactory(email="taken@example.com")
    response = sign_up(client, "taken@example.com")
    assert response["Location"] == "/accounts/confirm-email/"
    assert "already" in mail.outbox[0].subject.lower() or "account" in mail.outbox[0].body.lower()


def test_password_reset_answers_the_same_for_unknown_addresses(client):
    UserFactory(email="known@example.com")
    known = client.post("/accounts/password/reset/", {"email": "known@example.com"})
    unknown = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]


def test_password_reset_link_sets_a_new_password(client):
    UserFactory(email="forgetful@example.com")
    client.post("/accounts/password/reset/", {"email": "forgetful@example.com"})
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+)", mail.outbox[0].body).group(1)
    form_url = client.get(link)["Location"]
    new = "a-brand-new-passphrase-42"
    client.post(form_url, {"password1": new, "password2": new})
    assert client.login(email="forgetful@example.com", password=new)


def test_failed_logins_are_rate_limited(client):
    UserFactory(email="target@example.com")
    pages = [
        client.post("/accounts/login/", {"login": "target@example.com", "password": "wrong"}).content.decode()
        for _ in range(6)
    ]
    assert "Too many failed login attempts" not in pages[0]
    assert "Too many failed login attempts. Try again later." in pages[-1]
    # Even the right password is refused until the limit passes.
    right = client.post("/accounts/login/", {"login": "target@example.com", "password": PASSWORD})
    assert right.status_code == 200 and "_auth_user_id" not in client.session


@pytest.mark.parametrize("path", [
    "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/", "/accounts/confirm-email/",
])
def test_entrance_pages_use_the_app_layout_as_a_centred_card(client, path):
    html = client.get(path).content.decode()
    assert 'href="/static/css/app.css"' in html
    assert "entrance-page" in html
    assert 'class="button button-primary' in html or "confirm" in path


@pytest.mark.parametrize("path", ["/accounts/email/", "/accounts/password/change/"])
def test_account_pages_use_the_app_frame(client, owner, workspace, path):
    client.force_login(owner)
    html = client.get(path).content.decode()
    assert 'class="sidebar"' in html and "manage-page" in html and 'class="field' in html


def test_change_of_e_mail_sends_a_confirmation_to_the_new_address(client, owner, workspace):
    client.force_login(owner)
    client.post("/accounts/email/", {"action_add": "", "email": "new-owner@example.com"})
    assert mail.outbox[-1].to == ["new-owner@example.com"]
    client.post(confirmation_path(mail.outbox[-1]))
    owner.refresh_from_db()
    assert owner.email == "new-owner@example.com"


def test_password_change(client, owner, workspace):
    client.force_login(owner)
    new = "another-long-passphrase-7"
    client.post("/accounts/password/change/", {"oldpassword": PASSWORD, "password1": new, "password2": new})
    owner.refresh_from_db()
    assert owner.check_password(new)
