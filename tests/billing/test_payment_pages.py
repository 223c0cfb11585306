"""The Billing page's money parts through the test client (sandbox): who may buy, what is
refused, the card on file, the expiry reminder, and the demo's pack purchase."""

from datetime import date
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.urls import reverse

from billing import demo
from billing.cards import cards_expiry_notify
from billing.invoices import LineSpec, invoice_create
from billing.models import BillingAccount, BillingMode, Invoice, InvoiceStatus, LedgerEntry, Payment, SavedCard
from billing.selectors import workspace_has_saved_card

pytestmark = pytest.mark.django_db


def card(workspace, **fields):
    values = dict(stripe_id=f"pm_test_{workspace.pk}_{SavedCard.objects.count()}", brand="visa", last4="4242",
                  exp_month=12, exp_year=2030)
    values.update(fields)
    return SavedCard.objects.create(workspace=workspace, **values)


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_a_member_sees_the_balance_but_cannot_buy(client_for, member, workspace):
    client = client_for(member)
    page = client.get(reverse("billing"))
    assert b"Owners and admins buy credits." in page.content
    assert b'name="pack"' not in page.content and b"Save a card" not in page.content
    assert client.post(reverse("billing_credits_buy"), {"pack": "1000"}).status_code == 403
    assert not Payment.objects.exists()


def test_the_owner_sees_the_packs_staff_offer(client_for, owner, workspace):
    from billing.models import CreditPack

    CreditPack.objects.filter(credits=100_000).update(is_active=False)
    page = client_for(owner).get(reverse("billing"))
    assert [p.credits for p in page.context["packs"]] == [1_000, 5_000, 20_000]


@pytest.mark.parametrize("amount", ["4.99", "10000.01", "abc", ""])
def test_an_amount_outside_5_to_10000_dollars_is_refused(client_for, owner, workspace, amount):
    response = client_for(owner).post(reverse("billing_credits_buy"), {"amount_usd": amount}, follow=True)
    assert any("USD 5 to USD 10,000" in m for m in messages_of(response))
    assert not Payment.objects.exists()


def test_a_pack_that_is_not_on_sale_is_only_an_amount(client_for, owner, workspace):
    """A hand-made pack value still has to be a valid amount (USD 5 minimum)."""
    response = client_for(owner).post(reverse("billing_credits_buy"), {"pack": "3"}, follow=True)
    assert any("USD 5 to USD 10,000" in m for m in messages_of(response))


def test_a_paid_invoice_has_no_pay_now_and_cannot_be_paid_again(client_for, owner, workspace):
    invoice, _ = invoice_create(workspace=workspace, lines=[LineSpec("x", 500)], reference="t:paid",
                                status=InvoiceStatus.PAID)
    client = client_for(owner)
    assert b"Pay now" not in client.get(reverse("billing_invoices")).content
    response = client.post(reverse("billing_invoice_pay", args=[invoice.number]), follow=True)
    assert any("there is nothing to pay" in m for m in messages_of(response))


def test_another_workspaces_invoice_is_a_404(client_for, owner, workspace, outsider):
    other = outsider.memberships.get().workspace
    invoice, _ = invoice_create(workspace=other, lines=[LineSpec("x", 500)], reference="t:other")
    assert client_for(owner).post(reverse("billing_invoice_pay", args=[invoice.number])).status_code == 404


def test_saving_a_card_in_the_sandbox_shows_it_and_allows_pay_as_you_go(client_for, owner, workspace,
                                                                         django_capture_on_commit_callbacks):
    client = client_for(owner)
    url = client.post(reverse("billing_card_add"))["Location"]
    with django_capture_on_commit_callbacks(execute=True):
        back = client.post(urlsplit(url).path, {"card": "pm_sandbox_visa"})
    page = client.get(back["Location"], follow=True)
    assert any("Saved Visa •••• 4242, expiring 12/2030" in m for m in messages_of(page))
    assert workspace_has_saved_card(workspace)
    response = client.post(reverse("billing_mode"), {"billing_mode": "pay_as_you_go"}, follow=True)
    assert BillingAccount.objects.get(workspace=workspace).billing_mode == BillingMode.PAY_AS_YOU_GO, messages_of(response)


def test_replacing_the_card_keeps_one_current_card(workspace):
    from billing.cards import card_save
    from billing.models import PaymentCustomer

    PaymentCustomer.objects.create(workspace=workspace, stripe_id="cus_sbx_x")
    first = card(workspace)
    method = {"id": "pm_sbx_new", "card": {"brand": "mastercard", "last4": "5555", "exp_month": 1, "exp_year": 2032}}
    from billing import sandbox

    sandbox.put({"id": "cus_sbx_x", "object": "customer", "invoice_settings": {}})
    sandbox.put({"id": first.stripe_id, "object": "payment_method", "customer": "cus_sbx_x"})
    saved = card_save(workspace=workspace, payment_method=method)
    assert list(SavedCard.objects.filter(workspace=workspace, removed_at__isnull=True)) == [saved]
    assert str(saved) == "Mastercard •••• 5555"


def test_the_only_card_cannot_be_removed_while_pay_as_you_go_needs_it(client_for, owner, workspace):
    card(workspace)
    BillingAccount.objects.filter(workspace=workspace).update(billing_mode=BillingMode.PAY_AS_YOU_GO)
    response = client_for(owner).post(reverse("billing_card_remove"), follow=True)
    assert any("pay-as-you-go bills usage to it" in m for m in messages_of(response))
    assert workspace_has_saved_card(workspace)


def test_removing_the_card_when_nothing_needs_it(client_for, owner, workspace):
    from billing import sandbox

    saved = card(workspace, stripe_id="pm_sbx_old")
    sandbox.put({"id": "pm_sbx_old", "object": "payment_method", "customer": "cus_x"})
    response = client_for(owner).post(reverse("billing_card_remove"), follow=True)
    assert any("Removed Visa •••• 4242" in m for m in messages_of(response))
    assert not workspace_has_saved_card(workspace)
    saved.refresh_from_db()
    assert saved.removed_at is not None


def test_the_expiry_reminder_goes_to_owners_and_admins_once(workspace, admin_user, member):
    card(workspace, exp_month=12, exp_year=2026)
    assert cards_expiry_notify(today=date(2026, 11, 1)) == 0  # 61 days ahead: too early
    assert cards_expiry_notify(today=date(2026, 12, 2)) == 1
    assert cards_expiry_notify(today=date(2026, 12, 3)) == 0
    [sent] = mail.outbox
    assert sorted(sent.to) == ["admin@example.com", "owner@example.com"]
    assert "expires at the end of 12/2026" in sent.subject


def test_seed_demo_buys_its_pack_through_the_fulfilment_function_once():
    from teams import demo as teams_demo

    people = teams_demo.seed()
    demo.seed(people)
    demo.seed(people)
    [entry] = LedgerEntry.objects.filter(workspace=people.workspace, kind="purchase")
    assert entry.reference == f"pi:demo_pack_{people.workspace.slug}"
    assert Invoice.objects.get(reference=entry.reference).status == InvoiceStatus.PAID
