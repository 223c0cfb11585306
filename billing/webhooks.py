"""Stripe webhooks: each event is recorded (one row per Stripe event id), then handled by the
handler of its type, and the outcome kept on the row for staff (the admin lists them).

- processed: done; a second delivery of the same event id answers 200 and does nothing.
- failed: the handler hit a transient problem (Stripe or the database unreachable, a bug);
  its transaction rolled back, so no money moved, and the view answers 503 + Retry-After
  so Stripe delivers it again. Only `processed` counts as a duplicate.
- ignored: it can never be fulfilled (PaymentRejected: unknown workspace, amount or
  currency mismatch), or Meterdesk does not act on its type; 200, with the reason.

Concurrent deliveries of one event wait on the row's lock and the second finds it processed.
"""

import logging

from django.db import transaction
from django.utils import timezone

from billing import fulfil, refunds, stripe_invoices, subscriptions
from billing.cards import card_refresh, card_save_from_setup_intent
from billing.models import PaymentCustomer, WebhookEvent, WebhookStatus
from billing.payments import PaymentRejected

log = logging.getLogger("meterdesk.payments")


def _setup_intent_succeeded(setup_intent):
    metadata = setup_intent.get("metadata") or {}
    if metadata.get("kind") != "payment_method":
        return None  # a subscription's or a Checkout payment's own setup: handled there
    customer = PaymentCustomer.objects.filter(stripe_id=setup_intent.get("customer") or "").select_related(
        "workspace"
    ).first()
    if customer is None:
        raise PaymentRejected(f"SetupIntent {setup_intent.get('id')} is for a customer we do not know.")
    return card_save_from_setup_intent(workspace=customer.workspace, setup_intent=setup_intent)


# One handler per event type; each takes the event's data.object (and, when it is marked
# `takes_event`, the event too: the subscription handlers order events by their `created`).
HANDLERS = {
    "checkout.session.completed": fulfil.checkout_session_fulfil,
    "checkout.session.async_payment_succeeded": fulfil.checkout_session_fulfil,
    "checkout.session.async_payment_failed": fulfil.checkout_session_failed,
    "payment_intent.succeeded": fulfil.payment_intent_succeeded,
    "payment_intent.payment_failed": fulfil.payment_intent_failed,
    "setup_intent.succeeded": _setup_intent_succeeded,
    "payment_method.automatically_updated": card_refresh,
    "charge.refunded": refunds.charge_refunded,
    "charge.dispute.created": refunds.dispute_created,
    "invoice.paid": stripe_invoices.stripe_invoice_paid,
    "invoice.payment_failed": stripe_invoices.stripe_invoice_failed,
    "invoice.payment_action_required": stripe_invoices.stripe_invoice_action_required,
    "customer.subscription.updated": subscriptions.subscription_updated,
    "customer.subscription.deleted": subscriptions.subscription_deleted,
}


def _row(event):
    row, _ = WebhookEvent.objects.get_or_create(
        stripe_id=event["id"], defaults={"type": event.get("type", ""), "payload": event}
    )
    return row


def webhook_receive(event):
    """Record `event` (a dict) and handle it at most once; returns the row with its outcome.

    `row.duplicate` is True when the event had already been processed.
    """
    row = _row(event)
    with transaction.atomic():
        row = WebhookEvent.objects.select_for_update().get(pk=row.pk)
        row.duplicate = row.status == WebhookStatus.PROCESSED
        if row.duplicate:
            return row
        row.attempts += 1
        row.payload = event
        handler = HANDLERS.get(row.type)
        if handler is None:
            row.status, row.reason = WebhookStatus.IGNORED, f"Meterdesk does not act on {row.type} events."
        else:
            row.status, row.reason = _handle(handler, event)
        row.processed_at = timezone.now()
        row.save(update_fields=["attempts", "payload", "status", "reason", "processed_at"])
    return row


def _handle(handler, event):
    obj = (event.get("data") or {}).get("object") or {}
    try:
        with transaction.atomic():  # a failure rolls back everything the handler wrote
            handler(obj, event) if getattr(handler, "takes_event", False) else handler(obj)
    except PaymentRejected as rejected:
        log.warning("webhook %s %s ignored: %s", event.get("type"), event.get("id"), rejected)
        return WebhookStatus.IGNORED, str(rejected)
    except Exception as error:  # noqa: BLE001 - kept on the row; Stripe delivers it again
        log.exception("webhook %s %s failed", event.get("type"), event.get("id"))
        return WebhookStatus.FAILED, f"{type(error).__name__}: {error}"[:2000]
    return WebhookStatus.PROCESSED, ""
