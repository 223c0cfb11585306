"""Fulfilment: one function per kind of money in, and what a Checkout Session means.

The webhook, the success redirect and the sandbox all call these functions, any number of
times and at the same moment, with one effect: credits are posted under the PaymentIntent's
reference (`pi:<id>`, unique in the ledger) and the invoice under the same reference
(unique), and whatever follows a payment (the e-mailed PDF) runs only for the call whose
ledger row was new. Credits move only through billing.ledger.

A notice that can never be fulfilled (unknown workspace, amount or currency mismatch)
raises PaymentRejected: the webhook keeps the event `ignored` with that reason for staff.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import payments
from billing.payments import PaymentRejected
from billing.cards import card_save_from_setup_intent, card_save_from_payment_intent
from billing.invoices import LineSpec, invoice_create
from billing.ledger import ledger_post
from billing.mails import invoice_mail_on_commit
from billing.models import (
    EntryKind, Invoice, InvoiceStatus, Payment, PaymentKind, PaymentStatus, RechargeAttempt, RechargeStatus,
)
from billing.money import MICRO, USD_PER_CREDIT
from billing.recharge_state import recharge_attempt_id, recharge_intent_failed
from billing.subscriptions import checkout_subscription_fulfil
from teams.models import Workspace


def workspace_by_slug(slug):
    workspace = Workspace.objects.filter(slug=slug).first() if slug else None
    if workspace is None:
        raise PaymentRejected(f"No workspace {slug!r}: nothing was credited.")
    return workspace


def _intent_id(value):
    """A PaymentIntent field is its id, or the object when it was expanded."""
    return value.get("id") if isinstance(value, dict) else value


# --- credits bought with a card (Checkout, auto-recharge, the demo) ------------------------------


@dataclass(frozen=True)
class Credited:
    invoice: Invoice
    created: bool  # True only for the one call that moved the credits


def credits_purchase_fulfil(
    *, workspace, payment_intent_id, credits, amount_cents, currency="usd",
    kind=EntryKind.PURCHASE, description=None, actor=None, at=None,
):
    """Credit `credits` paid by `payment_intent_id` and write its paid invoice, once.

    Every card payment that buys credits ends here, whichever notice arrives first.
    """
    if currency != "usd":
        raise PaymentRejected(f"Payment {payment_intent_id} is in {currency!r}, not USD: nothing was credited.")
    if credits <= 0 or amount_cents != credits:
        raise PaymentRejected(
            f"Payment {payment_intent_id} of {amount_cents} cents does not pay for {credits} credits "
            "at USD 0.01 each: nothing was credited."
        )
    reference = f"pi:{payment_intent_id}"
    description = description or f"{credits:,} credits"
    at = at or timezone.now()
    with transaction.atomic():
        posting = ledger_post(
            workspace=workspace, kind=kind, amount_micro=credits * MICRO, reference=reference,
            memo=description, actor=actor, at=at,
        )
        invoice, _ = invoice_create(
            workspace=workspace, reference=reference, status=InvoiceStatus.PAID, issued_on=at.date(),
            lines=[LineSpec(
                description=description, amount_cents=amount_cents, quantity=Decimal(credits),
                unit="credit", unit_amount_usd=USD_PER_CREDIT,
            )],
        )
        _payment_paid(payment_intent_id, invoice)
        if posting.created:
            invoice_mail_on_commit(invoice)
    return Credited(invoice, posting.created)


def _payment_paid(payment_intent_id, invoice, payment_id=None):
    rows = Payment.objects.filter(pk=payment_id) if payment_id else Payment.objects.filter(
        payment_intent_id=payment_intent_id
    )
    rows.exclude(status=PaymentStatus.PAID).update(
        status=PaymentStatus.PAID, payment_intent_id=payment_intent_id, invoice=invoice,
        failure_reason="", updated_at=timezone.now(),
    )


# --- an open invoice paid (Pay now, or charged off-session) ---------------------------------


def invoice_payment_fulfil(*, invoice, payment_intent_id, amount_cents, currency, payment_id=None):
    """Mark `invoice` paid by `payment_intent_id`, once; e-mail its PDF."""
    if currency != "usd" or amount_cents != invoice.total_cents:
        raise PaymentRejected(
            f"Payment {payment_intent_id} ({amount_cents} {currency}) does not match invoice "
            f"{invoice.number} (USD {invoice.total_cents / 100:.2f}): the invoice stays open."
        )
    with transaction.atomic():
        paid_now = Invoice.objects.filter(pk=invoice.pk, status=InvoiceStatus.OPEN).update(
            status=InvoiceStatus.PAID, paid_at=timezone.now()
        )
        if payment_id:
            _payment_paid(payment_intent_id, invoice, payment_id)
        else:
            _payment_record(invoice, payment_intent_id, amount_cents)
        if paid_now:
            invoice.refresh_from_db()
            invoice_mail_on_commit(invoice)
        elif not Payment.objects.filter(payment_intent_id=payment_intent_id, invoice=invoice).exists():
            raise PaymentRejected(
                f"Invoice {invoice.number} was already paid; payment {payment_intent_id} paid it "
                "again. Refund it from the admin."
            )
    return invoice


def _payment_record(invoice, payment_intent_id, amount_cents):
    """An off-session invoice payment has no Payment row until it succeeds."""
    try:
        with transaction.atomic():
            Payment.objects.get_or_create(payment_intent_id=payment_intent_id, defaults={
                "workspace_id": invoice.workspace_id, "kind": PaymentKind.INVOICE, "invoice": invoice,
                "amount_cents": amount_cents, "status": PaymentStatus.PAID,
            })
    except IntegrityError:
        pass  # a concurrent call recorded it


def _invoice_by_number(workspace, number):
    invoice = Invoice.objects.filter(workspace=workspace, number=number or "").first()
    if invoice is None:
        raise PaymentRejected(f"No invoice {number!r} in {workspace.slug}: nothing was marked paid.")
    return invoice


# --- Checkout Sessions ---------------------------------------------------------------------


def _session_payment_id(session):
    value = (session.get("metadata") or {}).get("payment") or ""
    return int(value) if value.isdigit() else None


def _session_unpaid(session, workspace):
    """Completed but not paid yet (a slow payment method): the payment is processing."""
    if session.get("status") == "complete":
        Payment.objects.filter(
            workspace=workspace, checkout_session_id=session["id"], status=PaymentStatus.PENDING
        ).update(status=PaymentStatus.PROCESSING, updated_at=timezone.now())


def checkout_pack_fulfil(session, workspace):
    """credit_pack: paid, in USD, and amount_subtotal equal to the credits in cents."""
    raw = (session.get("metadata") or {}).get("credits") or ""
    if not raw.isdigit():
        raise PaymentRejected(f"Checkout {session['id']} names no number of credits: nothing was credited.")
    credits = int(raw)
    if session.get("payment_status") != "paid":
        _session_unpaid(session, workspace)
        return None
    intent_id = _intent_id(session.get("payment_intent"))
    if not intent_id:
        raise PaymentRejected(f"Checkout {session['id']} is paid but has no PaymentIntent.")
    credited = credits_purchase_fulfil(
        workspace=workspace, payment_intent_id=intent_id, credits=credits,
        amount_cents=session.get("amount_subtotal"), currency=session.get("currency"),
        description=f"{credits:,} credits",
    )
    _payment_paid(intent_id, credited.invoice, _session_payment_id(session))
    if (session.get("metadata") or {}).get("save_card") == "1":
        card_save_from_payment_intent(workspace=workspace, payment_intent_id=intent_id)
    return credited.invoice


def checkout_invoice_fulfil(session, workspace):
    invoice = _invoice_by_number(workspace, (session.get("metadata") or {}).get("invoice"))
    if session.get("payment_status") != "paid":
        _session_unpaid(session, workspace)
        return None
    return invoice_payment_fulfil(
        invoice=invoice, payment_intent_id=_intent_id(session.get("payment_intent")),
        amount_cents=session.get("amount_subtotal"), currency=session.get("currency"),
        payment_id=_session_payment_id(session),
    )


def checkout_card_fulfil(session, workspace):
    """payment_method (setup mode): the card saved becomes the workspace's card."""
    setup_intent = session.get("setup_intent")
    if session.get("status") != "complete" or not setup_intent:
        return None
    if isinstance(setup_intent, str):
        setup_intent = payments.setup_intent_get(setup_intent)
    return card_save_from_setup_intent(workspace=workspace, setup_intent=setup_intent)


CHECKOUT_KINDS = {
    "credit_pack": checkout_pack_fulfil,
    "invoice": checkout_invoice_fulfil,
    "payment_method": checkout_card_fulfil,
    "subscription": checkout_subscription_fulfil,
}


def checkout_session_fulfil(session):
    """Whatever a Checkout Session we created stands for, done once (any caller, any order)."""
    kind = (session.get("metadata") or {}).get("kind")
    fulfil = CHECKOUT_KINDS.get(kind)
    if fulfil is None:
        raise PaymentRejected(f"Checkout {session.get('id')} has metadata.kind {kind!r}, which Meterdesk never creates.")
    workspace = workspace_by_slug(session.get("client_reference_id"))
    return fulfil(session, workspace)


def checkout_session_failed(session):
    """async_payment_failed: the slow payment did not arrive."""
    workspace = workspace_by_slug(session.get("client_reference_id"))
    Payment.objects.filter(workspace=workspace, checkout_session_id=session["id"]).exclude(
        status=PaymentStatus.PAID
    ).update(status=PaymentStatus.DECLINED, failure_reason="Your payment did not go through; nothing was charged.",
             updated_at=timezone.now())


# --- PaymentIntents --------------------------------------------------------------------------


def payment_intent_succeeded(intent):
    """Only intents Meterdesk created off-session (metadata.kind auto_recharge or invoice) are
    fulfilled here; a Checkout's own intent is fulfilled by its session (never twice)."""
    metadata = intent.get("metadata") or {}
    kind = metadata.get("kind")
    if kind not in ("auto_recharge", "invoice"):
        return None
    workspace = workspace_by_slug(metadata.get("workspace"))
    if kind == "auto_recharge":
        return auto_recharge_fulfil(workspace=workspace, intent=intent)
    invoice = _invoice_by_number(workspace, metadata.get("invoice"))
    return invoice_payment_fulfil(
        invoice=invoice, payment_intent_id=intent["id"],
        amount_cents=intent.get("amount_received") or intent.get("amount"), currency=intent.get("currency"),
    )


def auto_recharge_fulfil(*, workspace, intent):
    """An auto-recharge's PaymentIntent (the recharge job, or payment_intent.succeeded): its
    credits under `pi:<id>` with a paid invoice, and its attempt marked paid; any number of
    calls, one effect. Returns the invoice."""
    raw = (intent.get("metadata") or {}).get("credits") or ""
    if not raw.isdigit():
        raise PaymentRejected(f"Auto-recharge {intent['id']} names no number of credits: nothing was credited.")
    credits = int(raw)
    credited = credits_purchase_fulfil(
        workspace=workspace, payment_intent_id=intent["id"], credits=credits,
        amount_cents=intent.get("amount_received") or intent.get("amount"), currency=intent.get("currency"),
        kind=EntryKind.AUTO_RECHARGE, description=f"Auto-recharge: {credits:,} credits",
    )
    RechargeAttempt.objects.filter(workspace=workspace, pk=recharge_attempt_id(intent)).exclude(
        status=RechargeStatus.SUCCEEDED
    ).update(status=RechargeStatus.SUCCEEDED, payment_intent_id=intent["id"], error="", finished_at=timezone.now())
    return credited.invoice


def payment_intent_failed(intent):
    """Record why a card payment failed on the Payment the customer is looking at."""
    metadata = intent.get("metadata") or {}
    error = intent.get("last_payment_error") or {}
    reason = payments.failure_sentence(error.get("code"), error.get("decline_code"))
    payment_id = metadata.get("payment") or ""
    rows = Payment.objects.filter(payment_intent_id=intent["id"])
    if payment_id.isdigit():
        rows = Payment.objects.filter(pk=int(payment_id), workspace__slug=metadata.get("workspace"))
    rows.exclude(status=PaymentStatus.PAID).update(
        status=PaymentStatus.DECLINED, failure_reason=reason[:300], updated_at=timezone.now()
    )
    if metadata.get("kind") == "auto_recharge":
        recharge_intent_failed(workspace=workspace_by_slug(metadata.get("workspace")), intent=intent, reason=reason)
    return reason
