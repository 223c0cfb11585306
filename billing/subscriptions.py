"""Paid plans through one Stripe subscription per workspace.

- Starting a paid plan goes through Checkout in subscription mode; the session's fulfilment
  (webhook or success redirect) records the subscription and upgrades the plan with
  `fee_billed_by_stripe`, so cycle closes leave the fee out and grant nothing.
- Switching between paid plans modifies that subscription, never prorated: an upgrade resets
  the billing anchor to now (Stripe invoices the new fee at once; our cycle closes early); a
  downgrade to a cheaper paid plan changes the price from the next renewal; a downgrade to a
  free plan sets cancel_at_period_end. Cancelling the downgrade undoes either.
- `invoice.paid` grants the plan's included credits (reference `stripe:<invoice id>`) and keeps
  the invoice under the same reference; `invoice.payment_failed` grants nothing and tells the
  owners; `customer.subscription.updated` keeps status and dates in step, ignoring an event
  older than the last one applied; `customer.subscription.deleted` closes the cycle and falls
  back to starter.
"""

from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from billing import payments
from billing.models import BillingAccount, Plan, Subscription
from billing.services import (
    DEFAULT_PLAN, BillingError, PlanChange, _locked_account, _require_manager, downgrade_cancel,
    plan_change, plan_rank, plan_switch_now,
)

ENDED = ("canceled", "incomplete_expired")


class SubscriptionNotReady(Exception):
    """An event about a subscription whose Checkout we have not fulfilled yet: the webhook
    answers 503 and Stripe delivers it again, after the session's own event."""


@dataclass(frozen=True)
class PlanChoice:
    checkout_url: str | None = None  # the customer goes to Checkout to start the subscription
    change: PlanChange | None = None  # the plan changed (or a change is scheduled) here


def subscription_live(workspace_id: int) -> Subscription | None:
    return Subscription.objects.filter(workspace_id=workspace_id).exclude(status__in=ENDED).first()


def _stripe_billed(plan):
    return bool(plan.price_cents) and not plan.price_is_custom


def _price_id(plan):
    return payments.plan_price_ensure(plan_code=plan.code, plan_name=plan.name, amount_cents=plan.price_cents)


def plan_choose(*, workspace, plan, actor, base_url, now=None) -> PlanChoice:
    """What "Upgrade" / "Downgrade" on the Billing page does for a customer."""
    _require_manager(workspace, actor)
    subscription = subscription_live(workspace.pk)
    account = BillingAccount.objects.select_related("plan").get(workspace_id=workspace.pk)
    if plan.pk == account.plan_id or plan.price_is_custom or not plan.is_public:
        return PlanChoice(change=plan_change(workspace=workspace, plan=plan, actor=actor, now=now))  # says why not
    upgrade = plan_rank(plan) > plan_rank(account.plan)
    if subscription is None:
        if upgrade and _stripe_billed(plan):
            return PlanChoice(checkout_url=_checkout_start(workspace, plan, base_url))
        return PlanChoice(change=plan_change(workspace=workspace, plan=plan, actor=actor, now=now))
    return PlanChoice(change=_subscription_switch(workspace, subscription, plan, actor, upgrade, now))


def _checkout_start(workspace, plan, base_url):
    from billing.cards import customer_for

    customer = customer_for(workspace)
    page = base_url.rstrip("/") + reverse("billing_subscription_return")
    session = payments.checkout_subscription_create(
        customer_id=customer.stripe_id, workspace_slug=workspace.slug, price_id=_price_id(plan),
        plan_code=plan.code, success_url=page + "?session_id={CHECKOUT_SESSION_ID}",
        cancel_url=base_url.rstrip("/") + reverse("billing"),
        idempotency_key=f"subscription-checkout:{workspace.pk}:{plan.code}:{timezone.now():%Y%m%d%H%M}",
    )
    return session["url"]


def _subscription_switch(workspace, subscription, plan, actor, upgrade, now):
    """Modify the one subscription. Our change happens first, in the same transaction as the
    call to Stripe: a refused call rolls it back, and an invoice.paid racing in waits on the
    account lock, so its grant lands in the new cycle."""
    now = now or timezone.now()
    with transaction.atomic():
        _locked_account(workspace)
        subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
        change = plan_change(workspace=workspace, plan=plan, actor=actor, billed_by_stripe=True, now=now)
        item = _item_id(subscription)
        if upgrade:
            payments.subscription_price_change(
                subscription_id=subscription.stripe_id, item_id=item, price_id=_price_id(plan),
                plan_code=plan.code, workspace_slug=workspace.slug, anchor_now=True,
                idempotency_key=f"subscription:{subscription.pk}:upgrade:{plan.code}:{now:%Y%m%d%H%M%S}",
            )
            subscription.plan = plan
        elif _stripe_billed(plan):
            payments.subscription_price_change(
                subscription_id=subscription.stripe_id, item_id=item, price_id=_price_id(plan),
                plan_code=plan.code, workspace_slug=workspace.slug, anchor_now=False, idempotency_key=None,
            )
        else:
            payments.subscription_cancel_at_period_end(subscription_id=subscription.stripe_id, cancel=True)
            subscription.cancel_at_period_end = True
        subscription.save()
    return change


def _item_id(subscription):
    remote = payments.subscription_get(subscription.stripe_id)
    items = (remote.get("items") or {}).get("data") or []
    if not items:
        raise BillingError("Your subscription could not be read from our payment provider; try again.")
    return items[0]["id"]


def subscription_downgrade_cancel(*, workspace, actor):
    """Keep the current plan: undo cancel_at_period_end, or put the current price back."""
    subscription = subscription_live(workspace.pk)
    if subscription is None:
        return downgrade_cancel(workspace=workspace, actor=actor)
    with transaction.atomic():
        account = _locked_account(workspace)
        scheduled = downgrade_cancel(workspace=workspace, actor=actor)
        if subscription.cancel_at_period_end:
            payments.subscription_cancel_at_period_end(subscription_id=subscription.stripe_id, cancel=False)
            Subscription.objects.filter(pk=subscription.pk).update(cancel_at_period_end=False)
        else:
            payments.subscription_price_change(
                subscription_id=subscription.stripe_id, item_id=_item_id(subscription),
                price_id=_price_id(account.plan), plan_code=account.plan.code, workspace_slug=workspace.slug,
                anchor_now=False, idempotency_key=None,
            )
    return scheduled


# --- fulfilment: Checkout in subscription mode --------------------------------------------------


def _id(value):
    return value.get("id") if isinstance(value, dict) else value


def checkout_subscription_fulfil(session, workspace):
    """checkout.session.completed (kind `subscription`): record it and move to its plan, once."""
    if session.get("status") != "complete" or not session.get("subscription"):
        return None
    remote = session["subscription"]
    if not isinstance(remote, dict):
        remote = payments.subscription_get(remote)
    code = (session.get("metadata") or {}).get("plan")
    plan = Plan.objects.filter(code=code or "").first()
    if plan is None:
        raise payments.PaymentRejected(f"Checkout {session.get('id')} names no plan of ours ({code!r}).")
    record = subscription_started(workspace=workspace, remote=remote, plan=plan)
    _card_keep(workspace, remote)
    return record


def _card_keep(workspace, remote):
    """The card paid with at Checkout becomes the workspace's card (the one the subscription,
    invoices, auto-recharge and pay-as-you-go charge)."""
    from billing.cards import card_save, workspace_card

    method = remote.get("default_payment_method")
    method_id = _id(method)
    current = workspace_card(workspace)
    if not method_id or (current is not None and current.stripe_id == method_id):
        return
    card_save(workspace=workspace, payment_method=method if isinstance(method, dict) else payments.payment_method_get(method_id))


def subscription_started(*, workspace, remote, plan, now=None):
    now = now or timezone.now()
    with transaction.atomic():
        account = _locked_account(workspace)
        record = Subscription.objects.select_for_update().filter(workspace=workspace).first()
        if record is not None and record.stripe_id == remote["id"]:
            return record  # fulfilled already (the webhook and the redirect both call this)
        if record is not None and record.status not in ENDED:
            raise payments.PaymentRejected(
                f"{workspace.slug} already has subscription {record.stripe_id}; {remote['id']} was not applied. "
                "Cancel one of them in Stripe."
            )
        fields = _remote_fields(remote)
        if record is None:
            record = Subscription.objects.create(workspace=workspace, stripe_id=remote["id"], plan=plan, **fields)
        else:
            Subscription.objects.filter(pk=record.pk).update(stripe_id=remote["id"], plan=plan, problem="", **fields)
            record.refresh_from_db()
        if account.plan_id != plan.pk:
            plan_switch_now(account=account, plan=plan, now=now, billed_by_stripe=True)
        elif not account.fee_billed_by_stripe:
            account.fee_billed_by_stripe = True
            account.save()
    return record


def _remote_fields(remote):
    items = (remote.get("items") or {}).get("data") or [{}]
    period_end = items[0].get("current_period_end") or remote.get("current_period_end")
    return {
        "status": remote.get("status") or "active",
        "cancel_at_period_end": bool(remote.get("cancel_at_period_end")),
        "current_period_end": datetime.fromtimestamp(period_end, dt_timezone.utc) if period_end else None,
    }


# --- webhooks: customer.subscription.* ----------------------------------------------------------


def _record_for(remote):
    record = Subscription.objects.select_for_update().select_related("workspace").filter(stripe_id=remote.get("id") or "").first()
    if record is None:
        metadata = remote.get("metadata") or {}
        if metadata.get("workspace"):
            raise SubscriptionNotReady(f"Subscription {remote.get('id')} is not recorded yet; waiting for its checkout.")
        raise payments.PaymentRejected(f"Subscription {remote.get('id')} is not one of ours.")
    return record


def subscription_updated(remote, event):
    """Status, cancel_at_period_end and period end, unless a later event was applied already."""
    created = int(event.get("created") or 0)
    with transaction.atomic():
        record = _record_for(remote)
        if created < record.stripe_updated:
            return record  # an older event delivered late: what it says is out of date
        Subscription.objects.filter(pk=record.pk).update(stripe_updated=created, **_remote_fields(remote))
        record.refresh_from_db()
        _past_due_set(record.workspace_id, record.past_due)
    return record


def _past_due_set(workspace_id, past_due):
    account = BillingAccount.objects.select_for_update().get(workspace_id=workspace_id)
    if account.payment_past_due != past_due and (account.fee_billed_by_stripe or not past_due):
        account.payment_past_due = past_due
        account.save()  # post_save refreshes authorize's cached limits


def subscription_deleted(remote, event, now=None):
    """The subscription ended: a final close, then starter (unless a scheduled downgrade at the
    cycle's end already moved the workspace off the paid plan)."""
    from billing.closing import cycles_close_due

    now = now or timezone.now()
    with transaction.atomic():
        record = _record_for(remote)
        if record.status in ENDED:
            return record
        cycles_close_due(at=now, workspace_id=record.workspace_id)
        account = _locked_account(record.workspace)
        Subscription.objects.filter(pk=record.pk).update(
            status="canceled", cancel_at_period_end=False, stripe_updated=int(event.get("created") or 0),
        )
        if account.fee_billed_by_stripe:
            plan_switch_now(account=account, plan=Plan.objects.get(code=DEFAULT_PLAN), now=now, billed_by_stripe=False)
    record.refresh_from_db()
    return record


subscription_updated.takes_event = True
subscription_deleted.takes_event = True
