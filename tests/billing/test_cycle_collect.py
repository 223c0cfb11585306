"""After a cycle close commits: a subscription cycle's overage becomes one Stripe invoice;
pay-as-you-go charges the saved card off-session, and a decline sends the workspace back to
prepaid with the invoice left open."""

from urllib.parse import parse_qsl

import pytest

from billing import payments
from billing.closing import cycles_close_due
from billing.models import BillingAccount, BillingCycle, BillingMode, Invoice, SandboxObject
from tests.billing.helpers import charge
from tests.billing.plans_helpers import *  # noqa: F401,F403
from tests.billing.test_auto_recharge import StripeIntents, card_on_file

pytestmark = pytest.mark.django_db


def close_now(workspace, capture):
    cycle = BillingCycle.objects.get(workspace=workspace, closed_at__isnull=True)
    with capture(execute=True):
        cycles_close_due(at=cycle.end)
    return cycle


def test_overage_of_a_subscription_cycle_is_one_stripe_invoice(
    workspace, subscribe, recorded, client_for, owner, django_capture_on_commit_callbacks,
):
    subscribe("pro")
    charge(workspace, 100_250, "u1")  # 250 credits past the 100,000 included (the balance starts at 0)
    cycle = close_now(workspace, django_capture_on_commit_callbacks)
    local = Invoice.objects.get(cycle=cycle)
    assert local.total_cents == 250  # overage only: Stripe bills the fee itself
    creates = [c for c in recorded.calls if c.path == "/v1/invoices"]
    assert [c.idempotency_key for c in creates] == [f"cycle:{cycle.pk}:overage"]
    assert dict(parse_qsl(creates[0].body))["metadata[kind]"] == "overage"
    local.refresh_from_db()
    assert local.status == "paid"  # invoice.paid of the one-off invoice marked it paid
    # A second run of the job (a retry) asks Stripe with the same keys: still one invoice there.
    from billing.stripe_invoices import cycle_invoice_collect

    with django_capture_on_commit_callbacks(execute=True):
        cycle_invoice_collect(cycle_id=cycle.pk, how="stripe_invoice")
    invoices = [row.data for row in SandboxObject.objects.filter(object="invoice")]
    assert len([i for i in invoices if i["metadata"].get("kind") == "overage"]) == 1


def test_pay_as_you_go_is_allowed_once_a_card_is_saved(workspace, owner, client_for):
    card_on_file(workspace)
    page = client_for(owner).post("/settings/billing/mode/", {"billing_mode": "pay_as_you_go"}, follow=True)
    assert "Billing mode is now pay as you go." in page.content.decode()
    assert BillingAccount.objects.get(workspace=workspace).billing_mode == BillingMode.PAY_AS_YOU_GO


@pytest.fixture
def payg(workspace):
    card_on_file(workspace)
    BillingAccount.objects.filter(workspace=workspace).update(billing_mode=BillingMode.PAY_AS_YOU_GO, overage_limit=10_000)
    charge(workspace, 3_000, "u1")  # 3,000 credits past zero (the workspace starts with none)
    return workspace


def test_pay_as_you_go_charges_the_closed_cycle_off_session(payg, django_capture_on_commit_callbacks):
    fake = StripeIntents()
    with payments.transport_use(fake.transport):
        cycle = close_now(payg, django_capture_on_commit_callbacks)
    invoice = Invoice.objects.get(cycle=cycle)
    [call] = fake.charges
    assert call.idempotency_key == f"invoice:{invoice.number}"
    assert dict(parse_qsl(call.body))["metadata[kind]"] == "invoice"
    assert int(dict(parse_qsl(call.body))["amount"]) == invoice.total_cents
    assert invoice.status == "paid" or Invoice.objects.get(pk=invoice.pk).status == "paid"


def test_a_declined_pay_as_you_go_charge_leaves_the_invoice_open_and_goes_prepaid(
    payg, admin_user, mailoutbox, django_capture_on_commit_callbacks,
):
    fake = StripeIntents("declined")
    with payments.transport_use(fake.transport):
        cycle = close_now(payg, django_capture_on_commit_callbacks)
    invoice = Invoice.objects.get(cycle=cycle)
    assert invoice.status == "open" and len(fake.charges) == 1
    assert BillingAccount.objects.get(workspace=payg).billing_mode == BillingMode.PREPAID
    [mail] = [m for m in mailoutbox if invoice.number in m.subject]
    assert sorted(mail.to) == ["admin@example.com", "owner@example.com"] and "insufficient funds" in mail.body
