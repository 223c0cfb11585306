"""Auto-recharge: settings on the Billing page, the balance API, one recharge per crossing of
the threshold, the monthly cap, and a declined card turning it off."""

import json

import pytest
from django.core.cache import cache

from billing import payments
from billing.ledger import credits_charge, workspace_balance
from billing.models import AutoRecharge, EntryKind, LedgerEntry, PaymentCustomer, RechargeAttempt, SavedCard
from billing.money import MICRO
from billing.recharge import _queued_key, auto_recharge_set
from billing.selectors import balance_payload
from tests.billing.helpers import buy

pytestmark = pytest.mark.django_db

SETTINGS = "/settings/billing/auto-recharge/"


def card_on_file(workspace, method="pm_card_visa"):
    PaymentCustomer.objects.get_or_create(workspace=workspace, defaults={"stripe_id": f"cus_{workspace.slug}"})
    return SavedCard.objects.create(workspace=workspace, stripe_id=method, brand="visa", last4="4242",
                                    exp_month=12, exp_year=2030)


class StripeIntents:
    """Answers POST /v1/payment_intents as Stripe would: succeeded, or declined (402)."""

    def __init__(self, outcome="succeeded"):
        self.outcome = outcome
        self.transport = payments.RecordingTransport(self.respond)

    @property
    def charges(self):
        return [call for call in self.transport.calls if call.path == "/v1/payment_intents"]

    def respond(self, method, url, headers, body):
        from urllib.parse import parse_qsl

        params = dict(parse_qsl(body))
        n = len(self.charges) - 1  # this call is already recorded
        intent = {"id": f"pi_test_{n}", "object": "payment_intent", "amount": int(params["amount"]),
                  "amount_received": int(params["amount"]), "currency": "usd", "status": "succeeded",
                  "metadata": {k[9:-1]: v for k, v in params.items() if k.startswith("metadata[")}}
        if self.outcome == "declined":
            return 402, json.dumps({"error": {"type": "card_error", "code": "card_declined",
                                              "decline_code": "insufficient_funds", "message": "Your card was declined.",
                                              "payment_intent": {**intent, "status": "requires_payment_method"}}})
        if self.outcome == "requires_action":
            intent.update(status="requires_action", amount_received=0)
        return 200, json.dumps(intent)


@pytest.fixture
def stripe_intents():
    fake = StripeIntents()
    with payments.transport_use(fake.transport):
        yield fake


def turn_on(workspace, owner, *, threshold=500, amount=5_000, cap=5):
    return auto_recharge_set(workspace=workspace, actor=owner, enabled=True, threshold_credits=threshold,
                             amount_credits=amount, monthly_cap=cap)


def cross_threshold(workspace, reference, credits=700):
    """A usage charge that takes the balance below the threshold; a minute later for the
    enqueue gate (the job itself decides under its lock)."""
    cache.delete(_queued_key(workspace.pk))
    credits_charge(workspace=workspace, amount_micro=credits * MICRO, reference=reference)


def test_owner_turns_it_on_and_the_balance_api_reports_it(workspace, owner, client_for):
    card_on_file(workspace)
    assert balance_payload(workspace)["auto_recharge"] == {"enabled": False, "threshold": None, "amount": None}
    page = client_for(owner).post(SETTINGS, {"enabled": "on", "threshold": "500", "amount_usd": "50",
                                            "monthly_cap": "3"}, follow=True).content.decode()
    assert "Auto-recharge is on: 5,000 credits are added when the balance falls below 500" in page
    assert balance_payload(workspace)["auto_recharge"] == {"enabled": True, "threshold": "500", "amount": "5000"}


@pytest.mark.parametrize("amount_usd, said", [("4.99", "Add (USD)"), ("10000.01", "Add (USD)")])
def test_amounts_outside_usd_5_to_10000_are_refused(workspace, owner, client_for, amount_usd, said):
    card_on_file(workspace)
    page = client_for(owner).post(SETTINGS, {"enabled": "on", "threshold": "500", "amount_usd": amount_usd,
                                            "monthly_cap": "3"}, follow=True).content.decode()
    assert said in page and not AutoRecharge.objects.exists()


def test_it_needs_a_saved_card_and_a_manager(workspace, owner, member, client_for):
    page = client_for(owner).post(SETTINGS, {"enabled": "on", "threshold": "500", "amount_usd": "50",
                                            "monthly_cap": "3"}, follow=True).content.decode()
    assert "Save a card first" in page and not AutoRecharge.objects.exists()
    card_on_file(workspace)
    assert client_for(member).post(SETTINGS, {"enabled": "on", "threshold": "500", "amount_usd": "50",
                                             "monthly_cap": "3"}).status_code == 403


def test_a_charge_below_the_threshold_recharges_once_with_a_saved_key(
    workspace, owner, stripe_intents, django_capture_on_commit_callbacks,
):
    card_on_file(workspace)
    buy(workspace, 1_000, "p1")
    turn_on(workspace, owner, threshold=500, amount=5_000)
    with django_capture_on_commit_callbacks(execute=True):
        credits_charge(workspace=workspace, amount_micro=600 * MICRO, reference="u1")
        credits_charge(workspace=workspace, amount_micro=10 * MICRO, reference="u2")
    [call] = stripe_intents.charges
    attempt = RechargeAttempt.objects.get()
    assert call.idempotency_key == f"auto_recharge:{attempt.pk}"
    assert "off_session=True" in call.body.replace("true", "True") and "metadata[kind]=auto_recharge" in call.body
    assert attempt.status == "succeeded" and attempt.payment_intent_id == "pi_test_0"
    row = LedgerEntry.objects.get(kind=EntryKind.AUTO_RECHARGE)
    assert (row.reference, row.amount_micro) == ("pi:pi_test_0", 5_000 * MICRO)
    assert workspace_balance(workspace.pk) == (1_000 - 610 + 5_000) * MICRO
    assert workspace.invoices.get(reference="pi:pi_test_0").status == "paid"


def test_the_monthly_cap_holds(workspace, owner, stripe_intents, django_capture_on_commit_callbacks):
    card_on_file(workspace)
    buy(workspace, 600, "p1")
    turn_on(workspace, owner, threshold=500, amount=500, cap=2)
    for n in range(4):
        with django_capture_on_commit_callbacks(execute=True):
            cross_threshold(workspace, f"u{n}", credits=700)
    assert len(stripe_intents.charges) == 2
    assert RechargeAttempt.objects.filter(status="succeeded").count() == 2
    assert LedgerEntry.objects.filter(kind=EntryKind.AUTO_RECHARGE).count() == 2


@pytest.mark.parametrize("outcome, reason", [
    ("declined", "declined for insufficient funds"),
    ("requires_action", "Your bank asks you to confirm this payment"),
])
def test_a_failing_card_makes_one_attempt_turns_it_off_and_tells_managers(
    workspace, owner, admin_user, member, client_for, mailoutbox, django_capture_on_commit_callbacks,
    outcome, reason,
):
    fake = StripeIntents(outcome)
    card_on_file(workspace)
    buy(workspace, 600, "p1")
    turn_on(workspace, owner)
    with payments.transport_use(fake.transport):
        for n in range(3):
            with django_capture_on_commit_callbacks(execute=True):
                cross_threshold(workspace, f"u{n}")
    assert len(fake.charges) == 1
    attempt = RechargeAttempt.objects.get()
    assert attempt.status == "failed" and reason in attempt.error
    settings = AutoRecharge.objects.get()
    assert not settings.enabled and reason in settings.disabled_reason
    assert not LedgerEntry.objects.filter(kind=EntryKind.AUTO_RECHARGE).exists()
    [mail] = [m for m in mailoutbox if "Auto-recharge is off" in m.subject]
    assert sorted(mail.to) == ["admin@example.com", "owner@example.com"]
    # With auto-recharge off, the balance below zero is the low-balance alerts' business.
    assert any("is low" in m.subject for m in mailoutbox)
    assert "/settings/billing/#auto-recharge" in mail.body
    page = client_for(owner).get("/settings/billing/").content.decode()
    assert "Auto-recharge was turned off." in page and "Failed" in page


def test_prepaid_only(workspace, owner):
    from billing.models import BillingAccount, BillingMode
    from billing.services import BillingError

    card_on_file(workspace)
    BillingAccount.objects.filter(workspace=workspace).update(billing_mode=BillingMode.PAY_AS_YOU_GO)
    with pytest.raises(BillingError, match="prepaid"):
        turn_on(workspace, owner)
