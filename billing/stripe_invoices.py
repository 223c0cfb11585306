"""Invoices Stripe bills for us: a subscription's fee (its payment grants the cycle's included
credits), and the one-off overage invoice of a subscription's cycle. Webhook handlers and the
job that collects a closed cycle's open invoice (Stripe invoice or off-session charge).
"""

from datetime import datetime, timezone as dt_timezone
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from billing import payments
from billing.invoices import LineSpec, invoice_create
from billing.ledger import ledger_post
from billing.mails import billing_problem_mail, invoice_mail_on_commit
from billing.models import (
    BillingAccount, BillingMode, EntryKind, Invoice, InvoiceStatus, Plan, Subscription,
)
from billing.money import MICRO
from billing.subscriptions import SubscriptionNotReady

OVERAGE = "overage"


def _subscription_of(invoice):
    """The subscription id of a Stripe invoice (API 2025+: under parent.subscription_details)."""
    details = ((invoice.get("parent") or {}).get("subscription_details") or {})
    value = details.get("subscription") or invoice.get("subscription")
    return value.get("id") if isinstance(value, dict) else value


def _record(invoice):
    subscription_id = _subscription_of(invoice)
    if not subscription_id:
        raise payments.PaymentRejected(f"Invoice {invoice.get('id')} is neither a subscription's nor an overage invoice of ours.")
    record = Subscription.objects.select_related("workspace", "plan").filter(stripe_id=subscription_id or "").first()
    if record is None:
        raise SubscriptionNotReady(f"Invoice {invoice.get('id')} is for subscription {subscription_id}, not recorded yet.")
    return record


def _usd(invoice):
    if invoice.get("currency") != "usd":
        raise payments.PaymentRejected(f"Invoice {invoice.get('id')} is in {invoice.get('currency')!r}, not USD: nothing was granted.")


def stripe_invoice_paid(invoice):
    """invoice.paid: an overage invoice marks our cycle invoice paid; a subscription's invoice
    grants its plan's included credits and is kept as a paid invoice, both under
    `stripe:<invoice id>` (unique: a second delivery grants nothing)."""
    _usd(invoice)
    metadata = invoice.get("metadata") or {}
    if metadata.get("kind") == OVERAGE:
        return _overage_paid(invoice, metadata)
    record = _record(invoice)
    plan = _invoice_plan(invoice, record)
    reference = f"stripe:{invoice['id']}"
    with transaction.atomic():
        # The account's lock: a plan switch in progress commits its new cycle first.
        BillingAccount.objects.select_for_update().get(workspace_id=record.workspace_id)
        if plan.included_credits:
            posting = ledger_post(
                workspace=record.workspace_id, kind=EntryKind.INCLUDED_GRANT,
                amount_micro=plan.included_credits * MICRO, reference=reference,
                memo=f"{plan.name}: included credits (paid invoice {invoice.get('number') or invoice['id']})",
            )
        lines = [
            LineSpec(description=(line.get("description") or plan.name)[:200], amount_cents=int(line.get("amount") or 0),
                     quantity=Decimal(line.get("quantity") or 1), unit="month",
                     unit_amount_usd=Decimal(int(line.get("amount") or 0)) / 100)
            for line in (invoice.get("lines") or {}).get("data") or []
        ] or [LineSpec(f"{plan.name} plan", int(invoice.get("amount_paid") or 0), unit="month")]
        period = _period(invoice)
        local, created = invoice_create(
            workspace=record.workspace, lines=lines, status=InvoiceStatus.PAID, reference=reference,
            memo=f"Stripe invoice {invoice.get('number') or invoice['id']}", period_start=period[0], period_end=period[1],
        )
        Subscription.objects.filter(pk=record.pk).update(problem="", plan=plan)
        if created:
            invoice_mail_on_commit(local)
    return local


def _period(invoice):
    """(start, end) of the subscription period the invoice bills, from its first line."""
    lines = (invoice.get("lines") or {}).get("data") or [{}]
    period = lines[0].get("period") or {}
    if not period.get("start") or not period.get("end") or period["start"] >= period["end"]:
        return None, None
    return tuple(datetime.fromtimestamp(period[key], dt_timezone.utc) for key in ("start", "end"))


def _invoice_plan(invoice, record):
    details = ((invoice.get("parent") or {}).get("subscription_details") or {})
    code = (details.get("metadata") or {}).get("plan")
    return (Plan.objects.filter(code=code).first() if code else None) or record.plan


def _overage_paid(invoice, metadata):
    local = Invoice.objects.filter(number=metadata.get("invoice") or "", workspace__slug=metadata.get("workspace") or "").first()
    if local is None:
        raise payments.PaymentRejected(f"Overage invoice {invoice.get('id')} names no invoice of ours.")
    if int(invoice.get("amount_paid") or 0) != local.total_cents:
        raise payments.PaymentRejected(
            f"Stripe invoice {invoice['id']} paid {invoice.get('amount_paid')} cents; {local.number} is {local.total_cents}."
        )
    if Invoice.objects.filter(pk=local.pk, status=InvoiceStatus.OPEN).update(status=InvoiceStatus.PAID, paid_at=timezone.now()):
        local.refresh_from_db()
        invoice_mail_on_commit(local)
    return local


def stripe_invoice_failed(invoice):
    """invoice.payment_failed: nothing is granted; the owners see the problem and are e-mailed."""
    metadata = invoice.get("metadata") or {}
    if metadata.get("kind") == OVERAGE:
        workspace = Invoice.objects.select_related("workspace").get(number=metadata.get("invoice")).workspace
    else:
        record = _record(invoice)
        workspace = record.workspace
        error = ((invoice.get("last_finalization_error") or {}).get("message")) or ""
        problem = (f"The payment of your {record.plan.name} invoice failed{': ' + error if error else ''}. "
                   "Update your card; Stripe tries again over the next days.")
        Subscription.objects.filter(pk=record.pk).update(problem=problem[:300])
    billing_problem_mail(workspace=workspace, subject="A payment failed", template="invoice_failed",
                         context={"invoice_url": invoice.get("hosted_invoice_url") or ""})
    return None


def stripe_invoice_action_required(invoice):
    """invoice.payment_action_required (3-D Secure on a renewal): e-mail the hosted invoice link."""
    record = _record(invoice)
    Subscription.objects.filter(pk=record.pk).update(
        problem="Your bank asks you to confirm the renewal payment: open the link we e-mailed you."
    )
    billing_problem_mail(workspace=record.workspace, subject="Confirm your payment", template="invoice_action_required",
                         context={"invoice_url": invoice.get("hosted_invoice_url") or ""})
    return None


# --- collecting a closed cycle's open invoice (after the close commits) --------------------------


def cycle_invoice_collect(*, cycle_id: int, how: str):
    """"stripe_invoice": the overage of a subscription's cycle becomes its own Stripe invoice,
    charged automatically (key `cycle:<id>:overage`). "card": pay-as-you-go charges the saved
    card off-session (key `invoice:<number>`); a decline leaves the invoice open, e-mails the
    owners and switches the workspace to prepaid. Safe to run twice."""
    from billing.cards import customer_for, workspace_card
    from billing.fulfil import invoice_payment_fulfil

    invoice = Invoice.objects.select_related("workspace").filter(cycle_id=cycle_id).first()
    if invoice is None or invoice.status != InvoiceStatus.OPEN or invoice.total_cents <= 0:
        return None
    workspace = invoice.workspace
    metadata = {"workspace": workspace.slug, "invoice": invoice.number}
    if how == "stripe_invoice":
        return payments.invoice_one_off_create(
            customer_id=customer_for(workspace).stripe_id, amount_cents=invoice.total_cents,
            description=f"Meterdesk overage, invoice {invoice.number}",
            metadata={**metadata, "kind": OVERAGE, "cycle": str(cycle_id)}, idempotency_key=f"cycle:{cycle_id}:overage",
        )
    card = workspace_card(workspace)
    try:
        if card is None:
            raise payments.PaymentError("There is no saved card to charge.", code="no_card")
        intent = payments.payment_intent_off_session_create(
            customer_id=customer_for(workspace).stripe_id, payment_method_id=card.stripe_id,
            amount_cents=invoice.total_cents, metadata={**metadata, "kind": "invoice"},
            idempotency_key=f"invoice:{invoice.number}",
        )
    except payments.PaymentError as error:
        if error.transient:
            raise
        return payg_charge_failed(invoice=invoice, reason=str(error))
    if intent.get("status") == "succeeded":
        return invoice_payment_fulfil(invoice=invoice, payment_intent_id=intent["id"],
                                      amount_cents=intent["amount"], currency=intent["currency"])
    return None  # processing: payment_intent.succeeded marks it paid


def payg_charge_failed(*, invoice, reason):
    """The invoice stays open (Pay now); the workspace goes back to prepaid; owners are told."""
    with transaction.atomic():
        account = BillingAccount.objects.select_for_update().get(workspace_id=invoice.workspace_id)
        if account.billing_mode == BillingMode.PAY_AS_YOU_GO:
            account.billing_mode = BillingMode.PREPAID
            account.save()
        billing_problem_mail(workspace=invoice.workspace, subject=f"Invoice {invoice.number} could not be charged",
                             template="payg_failed", context={"invoice": invoice, "reason": reason})
    return None
