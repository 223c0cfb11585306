"""Money given back: refunds (staff in the admin, or made in Stripe) and disputes.

Both go through `money_return_record`: a credit note on the invoice and, when the invoice
bought credits, a negative `refund` ledger row taking those credits back, once per Stripe
refund or dispute id (the credit note's and the ledger row's references are unique).
"""

from django.db import IntegrityError, transaction

from billing import payments
from billing.ledger import ledger_post
from billing.models import CreditNote, CreditNoteKind, EntryKind, Invoice, LedgerEntry, Payment
from billing.money import MICRO
from billing.payments import PaymentRejected
from billing.recharge_state import auto_recharge_disable

CREDIT_KINDS = (EntryKind.PURCHASE, EntryKind.AUTO_RECHARGE)


def invoice_for_payment_intent(payment_intent_id):
    """The invoice a card payment wrote (credits) or paid (Pay now, off-session)."""
    invoice = Invoice.objects.filter(reference=f"pi:{payment_intent_id}").first()
    if invoice is None:
        payment = Payment.objects.filter(payment_intent_id=payment_intent_id, invoice__isnull=False).first()
        invoice = payment.invoice if payment else None
    if invoice is None:
        raise PaymentRejected(f"No invoice of ours was paid by {payment_intent_id}: nothing was taken back.")
    return invoice


def returned_cents(invoice):
    return sum(invoice.credit_notes.values_list("amount_cents", flat=True))


def money_return_record(*, invoice, kind, reference, amount_cents, reason="", actor=None):
    """Write the credit note and, for bought credits, the negative ledger row. Once per
    `reference` (`refund:<re_…>`, `dispute:<dp_…>`); returns (note, created)."""
    if amount_cents <= 0:
        raise PaymentRejected(f"{reference}: nothing to give back.")
    try:
        with transaction.atomic():
            Invoice.objects.select_for_update().filter(pk=invoice.pk).first()
            note, created = CreditNote.objects.get_or_create(reference=reference, defaults={
                "invoice": invoice, "kind": kind, "amount_cents": amount_cents, "reason": reason[:200],
            })
            if created and _bought_credits(invoice):
                label = "Refund" if kind == CreditNoteKind.REFUND else "Disputed payment"
                ledger_post(
                    workspace=invoice.workspace_id, kind=EntryKind.REFUND,
                    amount_micro=-amount_cents * MICRO,  # 1 credit = 1 US cent
                    reference=reference, memo=f"{label} on invoice {invoice.number}", actor=actor,
                )
    except IntegrityError:
        return CreditNote.objects.get(reference=reference), False
    return note, created


def _bought_credits(invoice):
    return bool(invoice.reference) and LedgerEntry.objects.filter(
        reference=invoice.reference, kind__in=CREDIT_KINDS
    ).exists()


def invoice_refund(*, invoice, actor=None):
    """Staff: refund what is left of a card-paid invoice through Stripe (key `refund:<number>`)."""
    intent_id = _paid_by(invoice)
    remaining = invoice.total_cents - returned_cents(invoice)
    if remaining <= 0:
        raise PaymentRejected(f"Invoice {invoice.number} has nothing left to refund.")
    refund = payments.refund_create(
        payment_intent_id=intent_id, amount_cents=remaining, idempotency_key=f"refund:{invoice.number}"
    )
    note, _ = money_return_record(
        invoice=invoice, kind=CreditNoteKind.REFUND, reference=f"refund:{refund['id']}",
        amount_cents=refund["amount"], reason="Refunded by staff", actor=actor,
    )
    return note


def _paid_by(invoice):
    if invoice.reference and invoice.reference.startswith("pi:"):
        return invoice.reference[3:]
    payment = invoice.payments.filter(payment_intent_id__isnull=False, status="paid").first()
    if payment is None:
        raise PaymentRejected(f"Invoice {invoice.number} was not paid by card: there is nothing to refund in Stripe.")
    return payment.payment_intent_id


def charge_refunded(charge):
    """charge.refunded: each refund of the charge, once (a staff refund is already there)."""
    invoice = invoice_for_payment_intent(_charge_intent(charge))
    refunds = (charge.get("refunds") or {}).get("data") or []
    if not refunds and charge.get("amount_refunded"):
        # Refunds not included in the payload: the cumulative amount stands for them all.
        already = returned_cents(invoice)
        refunds = [{"id": f"{charge['id']}:{charge['amount_refunded']}",
                    "amount": charge["amount_refunded"] - already, "status": "succeeded"}]
    notes = []
    for refund in refunds:
        if refund.get("status") in ("failed", "canceled") or (refund.get("amount") or 0) <= 0:
            continue
        notes.append(money_return_record(
            invoice=invoice, kind=CreditNoteKind.REFUND, reference=f"refund:{refund['id']}",
            amount_cents=refund["amount"], reason="Refunded in Stripe",
        ))
    return notes


def dispute_created(dispute):
    """charge.dispute.created: the bank took the disputed amount back; so do the credits, and
    auto-recharge stops charging that card."""
    intent_id = dispute.get("payment_intent") or _charge_intent(payments.charge_get(dispute["charge"]))
    invoice = invoice_for_payment_intent(intent_id)
    result = money_return_record(
        invoice=invoice, kind=CreditNoteKind.DISPUTE, reference=f"dispute:{dispute['id']}",
        amount_cents=dispute["amount"], reason=f"Disputed by the card holder ({dispute.get('reason') or 'no reason given'})",
    )
    # A disputed card must not be charged again by auto-recharge.
    auto_recharge_disable(workspace=invoice.workspace, reason="A payment was disputed with your bank.")
    return result


def _charge_intent(charge):
    intent = charge.get("payment_intent")
    if not intent:
        raise PaymentRejected(f"Charge {charge.get('id')} has no PaymentIntent: it is not one of ours.")
    return intent.get("id") if isinstance(intent, dict) else intent
