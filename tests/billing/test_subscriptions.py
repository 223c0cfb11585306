"""Paid plans through one Stripe subscription: Checkout in subscription mode (sandbox), switches
that are never prorated, grants only when Stripe says the invoice is paid, and the webhook
events in any order (signed fixtures shaped like Stripe's objects)."""

from urllib.parse import parse_qsl

import pytest
from django.urls import reverse

from billing.models import (
    BillingAccount, BillingCycle, EntryKind, Invoice, LedgerEntry, Plan, Subscription, WebhookEvent,
)
from billing.cards import workspace_card
from billing.money import MICRO
from billing.selectors import spend_state
from tests.billing.helpers import charge
from tests.billing.plans_helpers import *  # noqa: F401,F403
from tests.billing.plans_helpers import grants, invoice_obj, subscription_obj
from tests.billing.stripe_events import event, post_event

pytestmark = pytest.mark.django_db


def test_upgrade_to_pro_goes_through_checkout_and_grants_when_the_invoice_is_paid(workspace, subscribe):
    first_cycle = BillingCycle.objects.get(workspace=workspace)
    page = subscribe("pro")
    assert "Welcome to Pro" in page and "Subscription: Active" in page
    account = BillingAccount.objects.get(workspace=workspace)
    assert account.plan.code == "pro" and account.fee_billed_by_stripe
    record = Subscription.objects.get(workspace=workspace)
    [(reference, amount)] = grants(workspace)
    assert reference.startswith("stripe:in_") and amount == 100_000 * MICRO
    invoice = Invoice.objects.get(reference=reference)
    assert invoice.status == "paid" and invoice.total_cents == 79_900 and invoice.cycle is None
    first_cycle.refresh_from_db()
    assert first_cycle.closed_at is not None  # the starter cycle closed early
    assert BillingCycle.objects.filter(workspace=workspace, closed_at__isnull=True, plan__code="pro").count() == 1
    assert record.status == "active"
    assert workspace_card(workspace).last4 == "4242"  # the card paid with is the workspace's card now
    assert invoice.period_start is not None and invoice.period_end > invoice.period_start
    # The success redirect and the webhook both fulfilled the session: one subscription, one grant.
    assert WebhookEvent.objects.filter(type="checkout.session.completed", status="processed").count() == 1


def test_switching_paid_plans_modifies_the_one_subscription_without_proration(
    workspace, owner, client_for, subscribe, recorded, django_capture_on_commit_callbacks,
):
    Plan.objects.filter(code__startswith="creditback-").update(is_public=True)
    personal = Plan.objects.filter(code__startswith="creditback-", price_cents=1_900).get()
    subscribe(personal.code)
    record = Subscription.objects.get(workspace=workspace)
    with django_capture_on_commit_callbacks(execute=True):
        client_for(owner).post(reverse("billing_plan_change"), {"plan": "pro"})
    [update] = [c for c in recorded.calls if c.method == "post" and c.path == f"/v1/subscriptions/{record.stripe_id}"]
    params = dict(parse_qsl(update.body))
    assert params["proration_behavior"] == "none" and params["billing_cycle_anchor"] == "now"
    assert update.idempotency_key
    assert len([c for c in recorded.calls if c.path == "/v1/checkout/sessions"]) == 1  # never a second Checkout
    assert Subscription.objects.count() == 1
    # The full fee, never a prorated part of it, and the full included credits.
    paid = sorted(Invoice.objects.filter(workspace=workspace, reference__startswith="stripe:").values_list("total_cents", flat=True))
    assert paid == [1_900, 79_900]
    assert sorted(amount for _, amount in grants(workspace)) == [1_900 * MICRO, 100_000 * MICRO]
    assert BillingAccount.objects.get(workspace=workspace).plan.code == "pro"


def test_downgrade_to_starter_cancels_at_period_end_and_keep_undoes_it(
    workspace, owner, client_for, subscribe, recorded, django_capture_on_commit_callbacks,
):
    subscribe("pro")
    client = client_for(owner)
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(reverse("billing_plan_change"), {"plan": "starter"}, follow=True).content.decode()
    assert "moves to Starter" in page
    record = Subscription.objects.get(workspace=workspace)
    assert record.cancel_at_period_end and "ends on" in client.get("/settings/billing/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("billing_downgrade_cancel"))
    record.refresh_from_db()
    assert not record.cancel_at_period_end
    assert BillingAccount.objects.get(workspace=workspace).scheduled_plan is None
    bodies = [dict(parse_qsl(c.body)).get("cancel_at_period_end") for c in recorded.calls
              if c.path == f"/v1/subscriptions/{record.stripe_id}" and c.method == "post"]
    assert bodies == ["true", "false"]


def test_a_renewal_whose_payment_fails_grants_nothing_and_tells_the_managers(
    workspace, admin_user, on_pro, client, client_for, owner, mailoutbox, django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        failed = invoice_obj(workspace, status="open", amount_paid=0)
        assert post_event(client, event("invoice.payment_failed", failed)).status_code == 200
        past_due = subscription_obj(workspace, status="past_due")
        assert post_event(client, event("customer.subscription.updated", past_due)).status_code == 200
    assert grants(workspace) == []
    assert not Invoice.objects.filter(reference="stripe:in_test_renewal").exists()
    [mail] = mailoutbox
    assert sorted(mail.to) == ["admin@example.com", "owner@example.com"]
    assert "https://invoice.stripe.com/i/test" in mail.body
    # Past due: the overage limit is 0, so usage past zero is refused.
    charge(workspace, 1, "u1")
    assert spend_state(workspace.pk).refusal == "spend_limit_reached"
    page = client_for(owner).get("/settings/billing/").content.decode()
    assert "Payment problem." in page and "Past due" in page
    # Paid later: the grant arrives once, and overage is allowed again.
    paid = invoice_obj(workspace)
    post_event(client, event("invoice.paid", paid))
    post_event(client, event("invoice.paid", paid))
    post_event(client, event("customer.subscription.updated", subscription_obj(workspace)))
    assert grants(workspace) == [("stripe:in_test_renewal", 100_000 * MICRO)]
    assert spend_state(workspace.pk).refusal is None


def test_out_of_order_subscription_events_keep_the_latest_state(workspace, on_pro, client):
    newer = event("customer.subscription.updated", subscription_obj(workspace, cancel_at_period_end=True))
    older = event("customer.subscription.updated", subscription_obj(workspace, status="past_due"))
    older["created"] = newer["created"] - 60
    assert post_event(client, newer).status_code == 200
    assert post_event(client, older).status_code == 200
    on_pro.refresh_from_db()
    assert on_pro.cancel_at_period_end and on_pro.status == "active"
    assert not BillingAccount.objects.get(workspace=workspace).payment_past_due


def test_an_invoice_paid_before_its_checkout_is_retried_and_grants_once(workspace, client):
    from billing.subscriptions import subscription_started

    paid = event("invoice.paid", invoice_obj(workspace, invoice_id="in_first", billing_reason="subscription_create"))
    response = post_event(client, paid)
    assert response.status_code == 503 and grants(workspace) == []
    subscription_started(workspace=workspace, remote=subscription_obj(workspace), plan=Plan.objects.get(code="pro"))
    assert post_event(client, paid).status_code == 200
    assert grants(workspace) == [("stripe:in_first", 100_000 * MICRO)]


def test_a_deleted_subscription_closes_the_cycle_and_falls_back_to_starter(workspace, on_pro, client):
    pro_cycle = BillingCycle.objects.get(workspace=workspace, closed_at__isnull=True)
    charge(workspace, 150, "u1")  # 150 credits of overage on the pro cycle
    assert post_event(client, event("customer.subscription.deleted", subscription_obj(workspace, status="canceled"))).status_code == 200
    pro_cycle.refresh_from_db()
    account = BillingAccount.objects.get(workspace=workspace)
    assert pro_cycle.closed_at is not None and account.plan.code == "starter" and not account.fee_billed_by_stripe
    assert Invoice.objects.get(cycle=pro_cycle).total_cents == 150  # USD 1.50 of overage only: Stripe billed the fee
    assert Subscription.objects.get(workspace=workspace).status == "canceled"


def test_a_renewal_needing_authentication_mails_the_hosted_invoice_link(
    workspace, on_pro, client, mailoutbox, django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        needs = invoice_obj(workspace, status="open", amount_paid=0)
        assert post_event(client, event("invoice.payment_action_required", needs)).status_code == 200
    [mail] = mailoutbox
    assert mail.to == ["owner@example.com"] and "https://invoice.stripe.com/i/test" in mail.body
    assert grants(workspace) == []
    on_pro.refresh_from_db()
    assert "confirm the renewal payment" in on_pro.problem
