"""Sign-up, log-in, confirmation, reset and account pages, and every e-mail, speak as the
product (SITE_NAME, SITE_URL's domain), never as allauth's defaults or the request's host."""

import re

import pytest
from django.core import mail

from teams.models import Role
from teams.services import invitation_create
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ALLAUTH_VOICE = re.compile(r"Sign In|Sign Up|Sign Out|Signup|Hello from|Thank you for using|"
                           r"Please Confirm|Verify Your|Password Reset E-?mail|Reset My Password|testserver!")


def main_and_title(html):
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
    return html[html.index("<main"):html.index("</main>")], " ".join(title.split())


@pytest.mark.parametrize("path, title, heading, button", [
    ("/accounts/login/", "Log in · Meterdesk", "Log in to Meterdesk", "Log in"),
    ("/accounts/signup/", "Sign up · Meterdesk", "Create your Meterdesk account", "Sign up"),
    ("/accounts/password/reset/", "Reset your password · Meterdesk", "Reset your password", "Send the link"),
    ("/accounts/confirm-email/", "Check your e-mail · Meterdesk", "Check your e-mail", None),
])
def test_entrance_pages_speak_as_meterdesk(client, path, title, heading, button):
    html = client.get(path).content.decode()
    main, page_title = main_and_title(html)
    assert page_title == title
    assert f"<h1>{heading}</h1>" in main
    if button:
        assert re.search(rf"<button[^>]*>{button}</button>", main)
    assert not ALLAUTH_VOICE.search(html), ALLAUTH_VOICE.search(html)
    assert "Remember Me" not in html


@pytest.mark.parametrize("path, heading", [
    ("/accounts/email/", "E-mail address"), ("/accounts/password/change/", "Change password"),
    ("/accounts/logout/", "Log out of Meterdesk?"),
])
def test_account_pages_speak_as_meterdesk(client, owner, workspace, path, heading):
    client.force_login(owner)
    html = client.get(path).content.decode()
    main, _title = main_and_title(html)
    assert f"<h1>{heading}</h1>" in main and "manage-page" in html
    assert not ALLAUTH_VOICE.search(html)


def test_logging_in_and_out_says_so_in_the_products_words(client):
    UserFactory(email="words@example.com")
    response = client.post("/accounts/login/", {"login": "words@example.com", "password": PASSWORD}, follow=True)
    assert "Logged in as words@example.com." in response.content.decode()
    response = client.post("/accounts/logout/", follow=True)
    assert "You are logged out." in response.content.decode()


def assert_speaks_as(message, name, domain):
    text = message.subject + "\n" + message.body
    assert message.subject.startswith(f"[{name}] "), message.subject
    assert not ALLAUTH_VOICE.search(text), (message.subject, message.body)
    assert "testserver" not in message.body.replace("http://testserver/", "")
    assert message.body.rstrip().endswith(f"— {name} · {domain}"), message.body


def test_sign_up_mail_welcomes_to_the_site_named_in_settings(client, settings):
    settings.SITE_NAME, settings.SITE_URL = "Meterdesk", "https://app.meterdesk.example"
    client.post("/accounts/signup/", {"email": "fresh@example.com", "password1": PASSWORD, "password2": PASSWORD})
    message = mail.outbox[-1]
    assert message.subject == "[Meterdesk] Confirm your e-mail address"
    assert message.body.startswith("Welcome to Meterdesk!")
    assert "http://testserver/accounts/confirm-email/" in message.body  # the link works where it was asked for
    assert_speaks_as(message, "Meterdesk", "app.meterdesk.example")


def test_every_account_mail_names_the_site_from_settings(client, settings, owner, workspace):
    settings.SITE_NAME, settings.SITE_URL = "Acme Metering", "https://meter.acme.example"
    UserFactory(email="known@example.com")
    client.post("/accounts/password/reset/", {"email": "known@example.com"})
    client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    client.post("/accounts/signup/", {"email": "known@example.com", "password1": PASSWORD, "password2": PASSWORD})
    client.force_login(owner)
    client.post("/accounts/email/", {"action_add": "", "email": "owner-new@example.com"})
    invitation_create(workspace=workspace, actor=owner, email="guest@example.com", role=Role.MEMBER,
                      base_url="http://testserver/")
    subjects = [m.subject for m in mail.outbox]
    assert subjects == [
        "[Acme Metering] Reset your password",
        "[Acme Metering] Password reset",
        "[Acme Metering] You already have an account",
        "[Acme Metering] Confirm your new e-mail address",
        "[Acme Metering] owner@example.com invited you to Acme",
    ]
    for message in mail.outbox[:4]:
        assert_speaks_as(message, "Acme Metering", "meter.acme.example")
        assert "Acme Metering" in message.body
    assert "on Acme Metering as member" in mail.outbox[4].body


def test_account_messages_speak_in_the_products_words(client, owner, workspace):
    """The flash after signing up, confirming and changing a password is ours, not allauth's."""
    response = client.post("/accounts/signup/", {"email": "flash@example.com", "password1": PASSWORD,
                                                 "password2": PASSWORD}, follow=True)
    assert "We sent a confirmation link to flash@example.com." in response.content.decode()
    link = re.search(r"http://testserver(/accounts/confirm-email/\S+/)", mail.outbox[-1].body).group(1)
    response = client.post(link, follow=True)
    assert "Your e-mail address flash@example.com is confirmed." in response.content.decode()

    client.force_login(owner)
    new = "another-Long-passphrase-42"
    response = client.post("/accounts/password/change/",
                           {"oldpassword": PASSWORD, "password1": new, "password2": new}, follow=True)
    html = response.content.decode()
    assert "Your password has been changed." in html
    assert "successfully" not in html and "Confirmation email sent" not in html
