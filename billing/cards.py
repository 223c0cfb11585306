"""A workspace's Stripe customer and its card on file: save, replace, remove, keep current,
and the reminder before it expires."""

import logging
from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import payments
from billing.mails import card_expiry_mail
from billing.models import BillingAccount, BillingMode, PaymentCustomer, SavedCard
from billing.payments import PaymentRejected
from config.flash import Refusal
from teams.models import Membership, Role

log = logging.getLogger("meterdesk.payments")

EXPIRY_NOTICE_DAYS = 30


class CardError(Refusal):
    """A card change that is not allowed; str() is a sentence for the user."""


def billing_email_default(workspace):
    owner = (
        Membership.objects.filter(workspace=workspace, role=Role.OWNER)
        .select_related("user").order_by("joined_at", "pk").first()
    )
    return owner.user.email if owner else ""


def customer_for(workspace):
    """The workspace's one Stripe Customer, made on first need.

    The idempotency key comes from the workspace, so two requests racing to make it get the
    same customer from Stripe, and the one-to-one row keeps one.
    """
    existing = PaymentCustomer.objects.filter(workspace=workspace).first()
    if existing is not None:
        return existing
    email = billing_email_default(workspace)
    stripe_id = payments.customer_create(
        name=workspace.name, email=email, workspace_slug=workspace.slug,
        idempotency_key=f"customer:workspace:{workspace.pk}",
    )
    try:
        with transaction.atomic():
            customer, _ = PaymentCustomer.objects.get_or_create(
                workspace=workspace, defaults={"stripe_id": stripe_id, "billing_email": email}
            )
    except IntegrityError:
        customer = PaymentCustomer.objects.get(workspace=workspace)
    return customer


def workspace_card(workspace):
    """The current card (brand, last 4, expiry), or None."""
    return SavedCard.objects.filter(workspace=workspace, removed_at__isnull=True).first()


def card_save(*, workspace, payment_method):
    """Make `payment_method` (Stripe's JSON) the workspace's card and the customer's default
    for invoices and the subscription; the card it replaces is detached after commit.

    Idempotent: saving the current card again changes nothing.
    """
    card = payment_method.get("card") or {}
    with transaction.atomic():
        customer = PaymentCustomer.objects.select_for_update().filter(workspace=workspace).first()
        if customer is None:
            raise PaymentRejected(f"{workspace.slug} has no Stripe customer of ours: the card was not saved.")
        current = workspace_card(workspace)
        if current is not None and current.stripe_id == payment_method["id"]:
            return current
        replaced = list(SavedCard.objects.filter(workspace=workspace, removed_at__isnull=True))
        SavedCard.objects.filter(pk__in=[c.pk for c in replaced]).update(removed_at=timezone.now())
        saved, _ = SavedCard.objects.update_or_create(stripe_id=payment_method["id"], defaults={
            "workspace": workspace, "brand": card.get("brand") or "card", "last4": card.get("last4") or "",
            "exp_month": card.get("exp_month") or 1, "exp_year": card.get("exp_year") or 2000,
            "removed_at": None, "expiry_notice_for": "",
        })
        payments.customer_default_card_set(customer_id=customer.stripe_id, payment_method_id=saved.stripe_id)
        for old in replaced:
            transaction.on_commit(lambda pm=old.stripe_id: _detach_quietly(pm))
    return saved


def _detach_quietly(payment_method_id):
    try:
        payments.payment_method_detach(payment_method_id)
    except payments.PaymentError:
        log.warning("could not detach replaced card %s; it stays on the Stripe customer", payment_method_id)


def card_save_from_setup_intent(*, workspace, setup_intent):
    if setup_intent.get("status") != "succeeded" or not setup_intent.get("payment_method"):
        return None
    method = setup_intent["payment_method"]
    if isinstance(method, str):
        method = payments.payment_method_get(method)
    return card_save(workspace=workspace, payment_method=method)


def card_save_from_payment_intent(*, workspace, payment_intent_id):
    """A purchase made with "keep this card" (setup_future_usage=off_session)."""
    intent = payments.payment_intent_get(payment_intent_id)
    method = intent.get("payment_method")
    if not method:
        return None
    if isinstance(method, str):
        method = payments.payment_method_get(method)
    return card_save(workspace=workspace, payment_method=method)


def card_refresh(payment_method):
    """payment_method.automatically_updated: the bank sent new details (expiry, number)."""
    card = payment_method.get("card") or {}
    return SavedCard.objects.filter(stripe_id=payment_method.get("id")).update(
        brand=card.get("brand") or "card", last4=card.get("last4") or "",
        exp_month=card.get("exp_month") or 1, exp_year=card.get("exp_year") or 2000, expiry_notice_for="",
    )


def card_needed_by(workspace):
    """Why the card cannot go, or None: pay-as-you-go and a Stripe subscription charge it."""
    account = BillingAccount.objects.get(workspace=workspace)
    if account.billing_mode == BillingMode.PAY_AS_YOU_GO:
        return "pay-as-you-go bills usage to it at the end of each cycle"
    if account.fee_billed_by_stripe:
        return f"your {account.plan.name} subscription is charged to it"
    return None


def card_remove(*, workspace, actor=None):
    """Remove the card on file, unless something charges it (then a CardError says what)."""
    from billing.services import _require_manager

    _require_manager(workspace, actor)
    with transaction.atomic():
        PaymentCustomer.objects.select_for_update().filter(workspace=workspace).first()
        card = workspace_card(workspace)
        if card is None:
            raise CardError("There is no saved card to remove.")
        needed = card_needed_by(workspace)
        if needed:
            raise CardError(
                f"This is your only card and {needed}. Save another card first, or switch to prepaid."
            )
        SavedCard.objects.filter(pk=card.pk).update(removed_at=timezone.now())
        transaction.on_commit(lambda: _detach_quietly(card.stripe_id))
    return card


def _month_end(year, month):
    return date(year + month // 12, month % 12 + 1, 1)


def cards_expiry_notify(*, today=None):
    """E-mail owners and admins once per card whose expiry is 30 days away or less (beat task).

    A conditional update claims each card's reminder, so two runs send it once.
    """
    today = today or timezone.now().date()
    sent = 0
    for card in SavedCard.objects.filter(removed_at__isnull=True).select_related("workspace"):
        expires = _month_end(card.exp_year, card.exp_month)  # valid through the month's last day
        key = f"{card.exp_year:04d}-{card.exp_month:02d}"
        if (expires - today).days > EXPIRY_NOTICE_DAYS or card.expiry_notice_for == key:
            continue
        claimed = SavedCard.objects.filter(pk=card.pk).exclude(expiry_notice_for=key).update(expiry_notice_for=key)
        if claimed:
            card_expiry_mail(card)
            sent += 1
    return sent
