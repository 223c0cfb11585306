"""Buying through the built-in sandbox with the test client: the same views, Checkout calls
and fulfilment functions as with Stripe (payments.py answered by billing/sandbox.py)."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from billing.ledger import workspace_balance
from billing.models import Invoice, InvoiceStatus, LedgerEntry, Payment, SavedCard, WebhookEvent
from billing.money import MICRO

pytestmark = pytest.mark.django_db


def _checkout_url(response):
    assert response.status_code == 302, response.content
    return response["Location"]


@pytest.fixture
def pay(client, django_capture_on_commit_callbacks):
    """pay(url): press a button on the sandbox's checkout page; its events are delivered."""

    def press(url, outcome="pay", card="pm_sandbox_visa"):
        with django_capture_on_commit_callbacks(execute=True):
            return _pay(client, url, outcome, card)

    return press


def _pay(client, url, outcome, card):
    path = re.sub(r"^https?://[^/]+", "", url)
    assert client.get(path).status_code == 200
    response = client.post(path, {"outcome": outcome, "card": card})
    assert response.status_code == 302
    return re.sub(r"^https?://[^/]+", "", response["Location"])


def test_owner_buys_a_pack_and_sees_it_paid(client_for, owner, workspace, pay):
    client = client_for(owner)
    before = workspace_balance(workspace.pk)
    url = _checkout_url(client.post(reverse("billing_credits_buy"), {"pack": "5000", "save_card": "1"}))
    assert "/billing/sandbox/checkout/cs_sbx_" in url
    back = pay(url)
    page = client.get(back)
    assert b"Paid." in page.content
    assert workspace_balance(workspace.pk) == before + 5_000 * MICRO
    payment = Payment.objects.get(workspace=workspace)
    assert payment.status == "paid" and payment.invoice.status == InvoiceStatus.PAID
    assert payment.invoice.reference == f"pi:{payment.payment_intent_id}"
    assert LedgerEntry.objects.filter(reference=f"pi:{payment.payment_intent_id}").count() == 1
    # The sandbox delivered payment_intent.succeeded (not crediting) and the session's event.
    assert set(WebhookEvent.objects.values_list("type", "status")) == {
        ("payment_intent.succeeded", "processed"), ("checkout.session.completed", "processed"),
    }
    [sent] = [m for m in mail.outbox if payment.invoice.number in m.subject]
    assert sent.to == [owner.email] and sent.attachments[0][0] == f"{payment.invoice.number}.pdf"
    # The card was kept (setup_future_usage=off_session) and is now the workspace's card.
    assert SavedCard.objects.get(workspace=workspace, removed_at__isnull=True).last4 == "4242"


def test_a_decline_shows_its_reason_and_credits_nothing(client_for, owner, workspace, pay):
    client = client_for(owner)
    before = workspace_balance(workspace.pk)
    url = _checkout_url(client.post(reverse("billing_credits_buy"), {"amount_usd": "25"}))
    back = pay(url, outcome="decline")
    page = client.get(back)
    assert b"Declined." in page.content and b"Your card was declined." in page.content
    assert workspace_balance(workspace.pk) == before
    assert not Invoice.objects.filter(workspace=workspace).exists()
