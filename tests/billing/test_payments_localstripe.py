"""billing.payments against localstripe: customers, saved cards, SetupIntents, off-session
PaymentIntents and refunds, and Stripe's errors as sentences a user can act on."""

import pytest

from billing import payments
from billing.cards import card_remove, card_save_from_setup_intent, customer_for, workspace_card
from billing.fulfil import payment_intent_succeeded
from billing.ledger import workspace_balance
from billing.models import EntryKind, LedgerEntry, PaymentCustomer
from billing.money import MICRO
from billing.payments import PaymentError
from billing.refunds import invoice_refund

pytestmark = pytest.mark.django_db


def test_one_customer_per_workspace(localstripe, workspace):
    first = customer_for(workspace)
    again = customer_for(workspace)
    assert first.pk == again.pk and first.stripe_id.startswith("cus_")
    assert localstripe.call("GET", f"/v1/customers/{first.stripe_id}")["metadata"] == {"workspace": workspace.slug}
    assert PaymentCustomer.objects.filter(workspace=workspace).count() == 1
    assert first.billing_email == "owner@example.com"


def test_a_card_saved_by_a_setup_intent_becomes_the_card_and_the_default(localstripe, workspace):
    customer = customer_for(workspace)
    setup = localstripe.setup_intent_confirmed(customer.stripe_id, "pm_card_visa", {"kind": "payment_method"})
    card = card_save_from_setup_intent(workspace=workspace, setup_intent=payments.setup_intent_get(setup["id"]))
    assert (card.brand_display, card.last4) == ("Visa", "4242")
    assert workspace_card(workspace) == card
    remote = localstripe.call("GET", f"/v1/customers/{customer.stripe_id}")
    assert remote["invoice_settings"]["default_payment_method"] == card.stripe_id


def _saved(localstripe, workspace, payment_method="pm_card_visa"):
    customer = customer_for(workspace)
    setup = localstripe.setup_intent_confirmed(customer.stripe_id, payment_method)
    return customer, card_save_from_setup_intent(workspace=workspace, setup_intent=setup)


def _recharge(customer, card, workspace, key, credits=2_500):
    return payments.payment_intent_off_session_create(
        customer_id=customer.stripe_id, payment_method_id=card.stripe_id, amount_cents=credits,
        metadata={"kind": "auto_recharge", "credits": str(credits), "workspace": workspace.slug}, idempotency_key=key,
    )


def test_an_off_session_payment_is_charged_and_credited_once(localstripe, workspace):
    customer, card = _saved(localstripe, workspace)
    before = workspace_balance(workspace.pk)
    intent = _recharge(customer, card, workspace, key="recharge:1")
    assert intent["status"] == "succeeded" and intent["amount"] == 2_500
    payment_intent_succeeded(intent)
    payment_intent_succeeded(intent)
    assert workspace_balance(workspace.pk) == before + 2_500 * MICRO
    assert LedgerEntry.objects.get(reference=f"pi:{intent['id']}").kind == EntryKind.AUTO_RECHARGE


def test_a_declined_card_is_a_sentence_not_a_stack_trace(localstripe, workspace):
    customer, card = _saved(localstripe, workspace, "pm_card_chargeCustomerFail")
    with pytest.raises(PaymentError) as raised:
        _recharge(customer, card, workspace, key="recharge:declined")
    assert raised.value.code == "card_declined" and not raised.value.transient
    assert str(raised.value) == "Your card was declined. Use another card on the Billing page."


def test_a_card_that_needs_authentication_off_session_is_authentication_required(localstripe, workspace):
    customer = customer_for(workspace)
    method = localstripe.card_create("4000002760003184")  # 3-D Secure required
    localstripe.card_attach(customer.stripe_id, method["id"])
    card = payments.payment_method_get(method["id"])
    with pytest.raises(PaymentError) as raised:
        payments.payment_intent_off_session_create(
            customer_id=customer.stripe_id, payment_method_id=card["id"], amount_cents=500,
            metadata={"kind": "auto_recharge", "credits": "500", "workspace": workspace.slug},
            idempotency_key="recharge:3ds",
        )
    assert raised.value.code == "authentication_required"
    assert "confirm this payment" in str(raised.value)


def test_staff_refund_returns_the_money_and_takes_the_credits_back(localstripe, workspace, django_user_model):
    customer, card = _saved(localstripe, workspace)
    intent = _recharge(customer, card, workspace, key="recharge:refund", credits=1_000)
    invoice = payment_intent_succeeded(intent)
    before = workspace_balance(workspace.pk)
    note = invoice_refund(invoice=invoice)
    assert note.amount_cents == 1_000 and note.reference.startswith("refund:re_")
    assert workspace_balance(workspace.pk) == before - 1_000 * MICRO
    charge = intent["latest_charge"]  # localstripe expands it
    charge = localstripe.call("GET", f"/v1/charges/{charge['id'] if isinstance(charge, dict) else charge}")
    assert charge["amount_refunded"] == 1_000


def test_removing_the_card_detaches_it(localstripe, workspace, owner):
    customer, card = _saved(localstripe, workspace)
    card_remove(workspace=workspace, actor=owner)
    assert workspace_card(workspace) is None
    assert localstripe.call("GET", f"/v1/payment_methods/{card.stripe_id}")["customer"] is None


def test_an_unreachable_stripe_is_a_transient_error(settings, workspace):
    settings.STRIPE_SECRET_KEY, settings.PAYMENTS_SANDBOX = "sk_test_x", False
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    with pytest.raises(PaymentError) as raised:
        customer_for(workspace)
    assert raised.value.transient and "nothing was charged" in str(raised.value)
