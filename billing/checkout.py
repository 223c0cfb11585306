"""Starting a Checkout (credits, Pay now, saving a card) and reading where a payment stands.

The Payment row is saved (committed) before Stripe is called: its id is the idempotency key,
and the return page reads its status. Owners and admins only (docs/design.md, "Who may do what").
"""

from django.db import transaction
from django.urls import reverse

from billing import payments
from billing.cards import customer_for
from billing.fulfil import checkout_session_fulfil
from billing.models import CreditPack, InvoiceStatus, Payment, PaymentKind, PaymentStatus
from billing.payments import PaymentError, PaymentRejected
from config.flash import Refusal
from billing.services import BillingError, _require_manager

CUSTOM_MIN_CREDITS = 500  # USD 5
CUSTOM_MAX_CREDITS = 1_000_000  # USD 10,000


def credits_validate(credits):
    """A pack on sale or any whole number of credits from USD 5 to USD 10,000."""
    if CreditPack.objects.filter(credits=credits, is_active=True).exists():
        return credits
    if not CUSTOM_MIN_CREDITS <= credits <= CUSTOM_MAX_CREDITS:
        raise BillingError("Choose an amount from USD 5 to USD 10,000.")
    return credits


def _urls(base_url, payment):
    page = base_url.rstrip("/") + reverse("billing_payment", args=[payment.pk])
    return page + "?session_id={CHECKOUT_SESSION_ID}", page + "?cancelled=1"


def _checkout(*, workspace, actor, kind, amount_cents, credits, invoice, product_name, metadata, save_card, base_url):
    _require_manager(workspace, actor)
    customer = customer_for(workspace)
    payment = Payment.objects.create(
        workspace=workspace, kind=kind, credits=credits, amount_cents=amount_cents, invoice=invoice,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    success_url, cancel_url = _urls(base_url, payment)
    try:
        session = payments.checkout_payment_create(
            customer_id=customer.stripe_id, workspace_slug=workspace.slug, amount_cents=amount_cents,
            product_name=product_name, metadata={**metadata, "kind": kind, "payment": str(payment.pk)},
            # No `kind` on the intent: its payment_intent.succeeded must not credit (the session does).
            intent_metadata={"payment": str(payment.pk), "workspace": workspace.slug},
            save_card=save_card, success_url=success_url, cancel_url=cancel_url,
            idempotency_key=payment.idempotency_key,
        )
    except PaymentError as error:
        Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.DECLINED, failure_reason=str(error)[:300])
        raise
    Payment.objects.filter(pk=payment.pk).update(checkout_session_id=session["id"])
    return session["url"]


def credits_checkout_start(*, workspace, credits, actor, base_url, save_card=False):
    """Checkout in payment mode for `credits` at USD 0.01 each; returns the URL to send the
    customer to (Stripe's, or the sandbox's)."""
    credits = credits_validate(int(credits))
    return _checkout(
        workspace=workspace, actor=actor, kind=PaymentKind.CREDIT_PACK, amount_cents=credits, credits=credits,
        invoice=None, product_name=f"{credits:,} Meterdesk credits", save_card=save_card, base_url=base_url,
        metadata={"credits": str(credits), "save_card": "1" if save_card else "0"},
    )


def invoice_checkout_start(*, workspace, invoice, actor, base_url):
    """Pay now: Checkout for an open invoice's total (metadata.kind=invoice)."""
    if invoice.status != InvoiceStatus.OPEN or invoice.total_cents <= 0:
        raise BillingError(f"Invoice {invoice.number} is {invoice.get_status_display().lower()}: there is nothing to pay.")
    return _checkout(
        workspace=workspace, actor=actor, kind=PaymentKind.INVOICE, amount_cents=invoice.total_cents,
        credits=None, invoice=invoice, product_name=f"Meterdesk invoice {invoice.number}", save_card=False,
        base_url=base_url, metadata={"invoice": invoice.number},
    )


def card_checkout_start(*, workspace, actor, base_url):
    """Checkout in setup mode: save (or replace) the card; nothing is charged."""
    _require_manager(workspace, actor)
    customer = customer_for(workspace)
    page = base_url.rstrip("/") + reverse("billing_card_saved")
    session = payments.checkout_setup_create(
        customer_id=customer.stripe_id, workspace_slug=workspace.slug,
        metadata={"kind": "payment_method", "workspace": workspace.slug},
        success_url=page + "?session_id={CHECKOUT_SESSION_ID}", cancel_url=base_url.rstrip("/") + reverse("billing"),
    )
    return session["url"]


def checkout_return(*, workspace, session_id):
    """The success redirect: fulfil the session now (the same function as the webhook), so
    the page shows the result even before Stripe's event arrives."""
    session = payments.checkout_session_get(session_id)
    if session.get("client_reference_id") != workspace.slug:
        raise PaymentRejected("This checkout belongs to another workspace.")
    with transaction.atomic():
        return session, checkout_session_fulfil(session)


def payment_refresh(payment):
    """Bring a pending payment up to date from its Checkout Session; errors leave it as it is
    (the webhook will still arrive) and are returned as a sentence."""
    if payment.status in (PaymentStatus.PAID, PaymentStatus.DECLINED) or not payment.checkout_session_id:
        return None
    try:
        checkout_return(workspace=payment.workspace, session_id=payment.checkout_session_id)
    except Refusal as error:
        return str(error)
    finally:
        payment.refresh_from_db()
    return None
