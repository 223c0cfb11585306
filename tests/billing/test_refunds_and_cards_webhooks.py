"""charge.refunded, charge.dispute.created, setup_intent.succeeded and
payment_method.automatically_updated, and the staff refund, each with one effect."""

import json

import pytest

from billing import payments
from billing.ledger import workspace_balance
from billing.models import CreditNote, EntryKind, Invoice, LedgerEntry, PaymentCustomer, SavedCard, WebhookEvent
from billing.money import MICRO
from billing.refunds import invoice_refund
from tests.billing.stripe_events import WEBHOOK_SECRET, event, pack_session, post_event, stripe_object

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET


@pytest.fixture
def bought(client, workspace):
    """5,000 credits bought by card (pi_test_pack)."""
    post_event(client, event("checkout.session.completed", pack_session(workspace, credits=5_000)))
    return Invoice.objects.get(reference="pi:pi_test_pack")


def refunded_charge(amounts):
    refunds = [stripe_object("refund", id=f"re_test_{n}", amount=amount, payment_intent="pi_test_pack")
               for n, amount in enumerate(amounts)]
    return stripe_object("charge", id="ch_test_pack", amount=5_000, payment_intent="pi_test_pack",
                         amount_refunded=sum(amounts), refunded=sum(amounts) == 5_000,
                         refunds={"object": "list", "data": refunds, "has_more": False})


def test_a_refund_made_in_stripe_takes_the_credits_back_once(client, workspace, bought):
    before = workspace_balance(workspace.pk)
    post_event(client, event("charge.refunded", refunded_charge([2_000])))
    post_event(client, event("charge.refunded", refunded_charge([2_000])))  # sent again, new event id
    assert workspace_balance(workspace.pk) == before - 2_000 * MICRO
    entry = LedgerEntry.objects.get(reference="refund:re_test_0")
    assert entry.kind == EntryKind.REFUND and entry.amount_micro == -2_000 * MICRO
    assert [n.amount_cents for n in bought.credit_notes.all()] == [2_000]
    # A second partial refund later: the charge lists both; only the new one moves.
    post_event(client, event("charge.refunded", refunded_charge([2_000, 3_000])))
    assert workspace_balance(workspace.pk) == before - 5_000 * MICRO
    assert bought.credit_notes.count() == 2


def test_a_dispute_takes_the_disputed_amount_back(client, workspace, bought):
    before = workspace_balance(workspace.pk)
    dispute = stripe_object("dispute", id="dp_test_1", amount=5_000, charge="ch_test_pack", payment_intent="pi_test_pack")
    post_event(client, event("charge.dispute.created", dispute))
    post_event(client, event("charge.dispute.created", dispute))
    assert workspace_balance(workspace.pk) == before - 5_000 * MICRO
    note = CreditNote.objects.get(reference="dispute:dp_test_1")
    assert note.kind == "dispute" and note.invoice == bought


def test_a_refund_of_a_payment_we_never_took_is_ignored(client, workspace):
    charge = stripe_object("charge", id="ch_other", payment_intent="pi_unknown", amount_refunded=100)
    assert post_event(client, event("charge.refunded", charge)).status_code == 200
    assert WebhookEvent.objects.get().status == "ignored"


def _stripe_answers(payment_method):
    """A responder standing in for Stripe: the card, and the customer update."""

    def respond(method, url, headers, body):
        if "/v1/payment_methods/" in url:
            return 200, json.dumps(payment_method)
        if "/v1/customers/" in url:
            return 200, json.dumps(stripe_object("event")["data"]["object"] | {"id": "cus_test", "object": "customer"})
        return 404, json.dumps({"error": {"type": "invalid_request_error", "message": "not here"}})

    return payments.RecordingTransport(respond)


def test_a_card_saved_in_setup_mode_becomes_the_card_and_the_default(client, workspace):
    PaymentCustomer.objects.create(workspace=workspace, stripe_id="cus_test")
    method = stripe_object("payment_method", id="pm_test_new", customer="cus_test")
    setup = stripe_object("setup_intent", id="seti_test", status="succeeded", customer="cus_test",
                          payment_method="pm_test_new", metadata={"kind": "payment_method", "workspace": workspace.slug})
    with payments.transport_use(_stripe_answers(method)) as transport:
        post_event(client, event("setup_intent.succeeded", setup))
    card = SavedCard.objects.get(workspace=workspace, removed_at__isnull=True)
    assert (card.brand_display, card.last4, card.expiry) == ("Visa", "4242", "08/2030")
    update = [c for c in transport.calls if c.path == "/v1/customers/cus_test"][0]
    assert "invoice_settings[default_payment_method]=pm_test_new" in update.body


def test_automatically_updated_keeps_the_shown_card_current(client, workspace):
    SavedCard.objects.create(workspace=workspace, stripe_id="pm_test_auto", brand="visa", last4="4242",
                             exp_month=8, exp_year=2026, expiry_notice_for="2026-08")
    method = stripe_object("payment_method", id="pm_test_auto")
    method["card"].update(exp_month=9, exp_year=2031, last4="1881")
    post_event(client, event("payment_method.automatically_updated", method))
    card = SavedCard.objects.get(stripe_id="pm_test_auto")
    assert (card.last4, card.expiry, card.expiry_notice_for) == ("1881", "09/2031", "")


def test_staff_refund_goes_through_stripe_with_the_invoice_key_and_the_event_adds_nothing(client, workspace, bought, staff_user):
    refund = stripe_object("refund", id="re_test_staff", amount=5_000, payment_intent="pi_test_pack")
    transport = payments.RecordingTransport(lambda *a: (200, json.dumps(refund)))
    before = workspace_balance(workspace.pk)
    with payments.transport_use(transport):
        invoice_refund(invoice=bought, actor=staff_user)
    assert [(c.path, c.idempotency_key) for c in transport.calls] == [("/v1/refunds", f"refund:{bought.number}")]
    post_event(client, event("charge.refunded", refunded_charge([5_000]) | {
        "refunds": {"object": "list", "has_more": False, "data": [refund]}}))
    assert workspace_balance(workspace.pk) == before - 5_000 * MICRO
    assert bought.credit_notes.count() == 1


@pytest.fixture
def staff_user(db):
    from tests.factories import UserFactory

    user = UserFactory(email="staff@example.com")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user
