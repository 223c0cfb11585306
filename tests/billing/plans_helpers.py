"""Fixtures of the paid-plan tests: the sandbox's recorded Stripe calls, a subscription started
through the Billing page, and Stripe-shaped subscription and invoice objects."""

import re

import pytest
from django.urls import reverse

from billing import payments, sandbox
from billing.models import EntryKind, LedgerEntry, Plan, Subscription
from tests.billing.stripe_events import WEBHOOK_SECRET, stripe_object

__all__ = ["_secret", "recorded", "subscribe", "on_pro"]


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET


@pytest.fixture
def recorded():
    """Every Stripe request the sandbox answers, recorded (path, body, idempotency key)."""
    transport = payments.RecordingTransport(sandbox.respond)
    with payments.transport_use(transport):
        yield transport


def _path(url):
    return re.sub(r"^https?://[^/]+", "", url)


@pytest.fixture
def subscribe(client_for, owner, django_capture_on_commit_callbacks):
    """subscribe(plan_code, card=...): Upgrade on the Billing page, then pay in the sandbox."""

    def run(code, card="pm_sandbox_visa"):
        client = client_for(owner)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("billing_plan_change"), {"plan": code})
            assert response.status_code == 302 and "/sandbox/checkout/" in response["Location"], response
            checkout = _path(response["Location"])
            assert "Test payment" in client.get(checkout).content.decode()
            back = client.post(checkout, {"outcome": "pay", "card": card})
            return client.get(_path(back["Location"]), follow=True).content.decode()

    return run


def grants(workspace):
    return list(LedgerEntry.objects.filter(workspace=workspace, kind=EntryKind.INCLUDED_GRANT)
                .values_list("reference", "amount_micro"))


# --- signed webhook fixtures ---------------------------------------------------------------------


def subscription_obj(workspace, **fields):
    obj = stripe_object("subscription", id="sub_test_1", customer="cus_test", status="active",
                        cancel_at_period_end=False, metadata={"workspace": workspace.slug, "plan": "pro"})
    obj["items"]["data"][0]["current_period_end"] = 1_900_000_000
    obj.update(fields)
    return obj


def invoice_obj(workspace, *, invoice_id="in_test_renewal", plan="pro", amount=79_900, **fields):
    obj = stripe_object(
        "invoice", id=invoice_id, currency="usd", status="paid", amount_paid=amount, total=amount,
        billing_reason="subscription_cycle", customer="cus_test", metadata={}, number="STRIPE-0001",
        hosted_invoice_url="https://invoice.stripe.com/i/test",
        parent={"type": "subscription_details", "quote_details": None, "subscription_details": {
            "subscription": "sub_test_1", "metadata": {"workspace": workspace.slug, "plan": plan}}},
    )
    obj["lines"]["data"][0].update(amount=amount, description="1 × Meterdesk Pro (per month)")
    obj.update(fields)
    return obj


@pytest.fixture
def on_pro(workspace):
    """A workspace whose Pro subscription sub_test_1 was started (its first invoice paid)."""
    from billing.subscriptions import subscription_started

    subscription_started(workspace=workspace, remote=subscription_obj(workspace), plan=Plan.objects.get(code="pro"))
    return Subscription.objects.get(workspace=workspace)


