"""POST /billing/stripe/webhook/: signatures, one effect per event, what is credited and what
is refused, with payloads shaped like Stripe's own example objects."""

import json
import time

import pytest
from django.db import OperationalError

from billing import fulfil
from billing.ledger import workspace_balance
from billing.models import EntryKind, Invoice, InvoiceStatus, LedgerEntry, Payment, PaymentKind, WebhookEvent
from billing.money import MICRO
from tests.billing.stripe_events import WEBHOOK_SECRET, event, pack_session, post_event, stripe_object

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET


def credited(reference):
    return LedgerEntry.objects.filter(reference=reference).count()


def test_a_paid_pack_is_credited_with_a_paid_invoice(client, workspace):
    before = workspace_balance(workspace.pk)
    response = post_event(client, event("checkout.session.completed", pack_session(workspace, credits=5_000)))
    assert response.status_code == 200 and response.json()["status"] == "processed"
    assert workspace_balance(workspace.pk) == before + 5_000 * MICRO
    entry = LedgerEntry.objects.get(reference="pi:pi_test_pack")
    assert entry.kind == EntryKind.PURCHASE
    invoice = Invoice.objects.get(reference="pi:pi_test_pack")
    assert invoice.status == InvoiceStatus.PAID and invoice.total_cents == 5_000


@pytest.mark.parametrize("how", ["forged", "stale", "tampered", "unsigned"])
def test_a_bad_signature_is_refused_and_changes_nothing(client, workspace, how):
    evt = event("checkout.session.completed", pack_session(workspace, credits=1_000))
    kwargs = {
        "forged": {"secret": "whsec_someone_else"},
        "stale": {"at": time.time() - 301},
        "tampered": {"body": json.dumps(evt).replace('"1000"', '"100000"')},
        "unsigned": {"signature": False},
    }[how]
    before = workspace_balance(workspace.pk)
    response = post_event(client, evt, **kwargs)
    assert response.status_code == 400
    assert workspace_balance(workspace.pk) == before
    assert not WebhookEvent.objects.exists()


def test_a_signature_within_the_tolerance_is_accepted(client, workspace):
    evt = event("checkout.session.completed", pack_session(workspace, credits=1_000))
    assert post_event(client, evt, at=time.time() - 290).status_code == 200


def test_a_duplicate_delivery_answers_200_and_does_nothing(client, workspace):
    evt = event("checkout.session.completed", pack_session(workspace, credits=1_000))
    first, second = post_event(client, evt), post_event(client, evt)
    assert first.status_code == second.status_code == 200
    assert second.json()["duplicate"] is True
    assert credited("pi:pi_test_pack") == 1
    assert WebhookEvent.objects.get().attempts == 1


def test_the_same_payment_in_two_events_is_credited_once(client, workspace):
    """completed and async_payment_succeeded (or Stripe resending with a new id) move it once."""
    session = pack_session(workspace, credits=1_000)
    post_event(client, event("checkout.session.completed", session))
    post_event(client, event("checkout.session.async_payment_succeeded", session))
    assert credited("pi:pi_test_pack") == 1
    assert Invoice.objects.filter(workspace=workspace).count() == 1


def test_an_unpaid_session_credits_nothing_and_shows_processing(client, workspace):
    payment = Payment.objects.create(workspace=workspace, kind=PaymentKind.CREDIT_PACK, credits=1_000,
                                     amount_cents=1_000, checkout_session_id="cs_test_slow")
    session = pack_session(workspace, credits=1_000, id="cs_test_slow", payment_status="unpaid", payment=payment.pk)
    response = post_event(client, event("checkout.session.completed", session))
    assert response.status_code == 200
    assert credited("pi:pi_test_pack") == 0
    payment.refresh_from_db()
    assert payment.status == "processing"
    # The bank confirms later: now it is credited, once.
    post_event(client, event("checkout.session.async_payment_succeeded", {**session, "payment_status": "paid"}))
    payment.refresh_from_db()
    assert credited("pi:pi_test_pack") == 1 and payment.status == "paid"


@pytest.mark.parametrize("fields, reason", [
    ({"amount_subtotal": 999}, "does not pay for 1000 credits"),
    ({"currency": "eur"}, "not USD"),
    ({"client_reference_id": "no-such-workspace"}, "No workspace 'no-such-workspace'"),
])
def test_a_mismatch_is_kept_ignored_with_its_reason(client, workspace, fields, reason):
    before = workspace_balance(workspace.pk)
    response = post_event(client, event("checkout.session.completed", pack_session(workspace, credits=1_000, **fields)))
    assert response.status_code == 200
    row = WebhookEvent.objects.get()
    assert row.status == "ignored" and reason in row.reason
    assert workspace_balance(workspace.pk) == before


def test_a_transient_failure_moves_no_money_answers_503_and_the_retry_credits_once(client, workspace, monkeypatch):
    real = fulfil.invoice_create
    calls = []

    def failing_once(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("could not connect to server")
        return real(**kwargs)

    monkeypatch.setattr(fulfil, "invoice_create", failing_once)
    before = workspace_balance(workspace.pk)
    evt = event("checkout.session.completed", pack_session(workspace, credits=1_000))
    response = post_event(client, evt)
    assert response.status_code == 503 and response["Retry-After"] == "60"
    row = WebhookEvent.objects.get()
    assert row.status == "failed" and "could not connect" in row.reason
    assert workspace_balance(workspace.pk) == before and credited("pi:pi_test_pack") == 0

    retry = post_event(client, evt)
    assert retry.status_code == 200 and retry.json()["duplicate"] is False
    row.refresh_from_db()
    assert row.status == "processed" and row.attempts == 2
    assert workspace_balance(workspace.pk) == before + 1_000 * MICRO


def test_an_unknown_event_type_is_recorded_and_answered_200(client):
    response = post_event(client, event("plan.created", stripe_object("event")["data"]["object"]))
    assert response.status_code == 200
    row = WebhookEvent.objects.get()
    assert row.type == "plan.created" and row.status == "ignored" and "does not act on" in row.reason


def test_a_checkouts_payment_intent_arriving_first_credits_nothing_and_the_session_credits_once(client, workspace):
    intent = stripe_object("payment_intent", id="pi_test_pack", status="succeeded", amount=2_000, amount_received=2_000,
                           metadata={"payment": "1", "workspace": workspace.slug})
    assert post_event(client, event("payment_intent.succeeded", intent)).status_code == 200
    assert credited("pi:pi_test_pack") == 0
    post_event(client, event("checkout.session.completed", pack_session(workspace, credits=2_000)))
    post_event(client, event("payment_intent.succeeded", intent))  # Stripe sending it again
    assert credited("pi:pi_test_pack") == 1


def test_an_off_session_auto_recharge_intent_is_credited(client, workspace):
    intent = stripe_object("payment_intent", id="pi_test_recharge", status="succeeded", amount=2_500,
                           amount_received=2_500, currency="usd",
                           metadata={"kind": "auto_recharge", "credits": "2500", "workspace": workspace.slug})
    post_event(client, event("payment_intent.succeeded", intent))
    post_event(client, event("payment_intent.succeeded", intent))
    entry = LedgerEntry.objects.get(reference="pi:pi_test_recharge")
    assert entry.kind == EntryKind.AUTO_RECHARGE and entry.amount_micro == 2_500 * MICRO


def test_an_off_session_invoice_intent_pays_the_invoice(client, workspace):
    from billing.invoices import LineSpec, invoice_create

    invoice, _ = invoice_create(workspace=workspace, lines=[LineSpec("Overage", 1_234)], reference="test:overage")
    intent = stripe_object("payment_intent", id="pi_test_invoice", status="succeeded", amount=1_234, amount_received=1_234,
                           currency="usd", metadata={"kind": "invoice", "invoice": invoice.number, "workspace": workspace.slug})
    assert post_event(client, event("payment_intent.succeeded", intent)).status_code == 200
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert Payment.objects.get(payment_intent_id="pi_test_invoice").invoice == invoice


def test_a_failed_payment_records_the_reason_on_the_payment(client, workspace):
    payment = Payment.objects.create(workspace=workspace, kind=PaymentKind.CREDIT_PACK, credits=1_000, amount_cents=1_000)
    intent = stripe_object(
        "payment_intent", id="pi_test_declined", status="requires_payment_method",
        last_payment_error={"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds"},
        metadata={"payment": str(payment.pk), "workspace": workspace.slug},
    )
    post_event(client, event("payment_intent.payment_failed", intent))
    payment.refresh_from_db()
    assert payment.status == "declined" and "insufficient funds" in payment.failure_reason
