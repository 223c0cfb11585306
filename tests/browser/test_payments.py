"""Paying in the built-in sandbox, in Chromium: an owner buys a pack and a custom amount and
sees the balance, the invoice and its PDF; a decline shows its reason; an open invoice is
paid with "Pay now"; a member sees no buy button. Screenshots at 1366 and 390 px."""

import pytest
from django.core import mail

from billing.invoices import LineSpec, invoice_create
from billing.ledger import workspace_balance
from billing.models import InvoiceStatus
from billing.money import MICRO
from tests.browser.conftest import log_in
from tests.factories import PASSWORD, UserFactory, WorkspaceFactory, add_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shop():
    owner = UserFactory(email="buyer@shop.test")
    return owner, WorkspaceFactory(owner=owner, name="Shop Inc")


def both_widths(page, screenshot, name):
    page.set_viewport_size({"width": 1366, "height": 900})
    screenshot(page, f"{name}-1366")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, f"{name}-390")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{name} scrolls sideways"
    page.set_viewport_size({"width": 1366, "height": 900})


def test_owner_buys_a_pack_and_a_custom_amount_and_gets_the_invoice(page, shop, screenshot):
    owner, workspace = shop
    start = workspace_balance(workspace.pk)
    log_in(page, owner.email, PASSWORD)
    page.goto("/settings/billing/")
    both_widths(page, screenshot, "billing-buy")

    page.get_by_role("button", name="5,000 credits").click()
    page.get_by_text("Test payment · no money moves").wait_for()
    both_widths(page, screenshot, "sandbox-checkout")
    page.get_by_role("button", name="Pay USD 50.00").click()
    page.get_by_text("Paid.").wait_for()
    page.get_by_text("5,000 credits were added to Shop Inc.").wait_for()
    assert workspace_balance(workspace.pk) == start + 5_000 * MICRO
    number = workspace.invoices.get().number
    page.get_by_text(number).wait_for()
    both_widths(page, screenshot, "payment-paid")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the PDF").click()
    assert open(download.value.path(), "rb").read(4) == b"%PDF"
    assert any(number in m.subject and m.attachments for m in mail.outbox)

    page.goto("/settings/billing/")
    page.get_by_label("Any amount (USD 5 to 10,000)").fill("12.34")
    page.get_by_role("button", name="Buy credits").click()
    page.get_by_role("button", name="Pay USD 12.34").click()
    page.get_by_text("1,234 credits were added to Shop Inc.").wait_for()
    assert workspace_balance(workspace.pk) == start + 6_234 * MICRO
    page.goto("/settings/billing/")
    page.get_by_text("Visa •••• 4242", exact=True).wait_for()  # the first purchase kept the card
    rows = page.locator("section[aria-labelledby=invoices-title] tbody tr")
    assert rows.count() == 2 and "USD 12.34" in rows.first.inner_text()


def test_a_decline_shows_its_reason(page, shop, screenshot):
    owner, workspace = shop
    start = workspace_balance(workspace.pk)
    log_in(page, owner.email, PASSWORD)
    page.goto("/settings/billing/")
    page.get_by_role("button", name="1,000 credits").click()
    page.get_by_role("button", name="Decline").click()
    page.get_by_text("Declined.").wait_for()
    page.get_by_text("Your card was declined.").wait_for()
    both_widths(page, screenshot, "payment-declined")
    assert workspace_balance(workspace.pk) == start


def test_an_open_invoice_is_paid_with_pay_now(page, shop, screenshot):
    owner, workspace = shop
    invoice, _ = invoice_create(workspace=workspace, lines=[LineSpec("Overage at USD 0.01 per credit", 4_321)],
                                reference="test:open-invoice")
    log_in(page, owner.email, PASSWORD)
    page.goto("/settings/billing/invoices/")
    both_widths(page, screenshot, "invoices-open")
    page.get_by_role("button", name=f"Pay now invoice {invoice.number}").click()
    page.get_by_role("button", name="Pay USD 43.21").click()
    page.get_by_text(f"Invoice {invoice.number} is paid.").wait_for()
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    page.goto("/settings/billing/invoices/")
    assert page.get_by_role("button", name=f"Pay now invoice {invoice.number}").count() == 0


def test_a_member_sees_billing_but_no_buy_button(page, shop, screenshot):
    _owner, workspace = shop
    member = add_member(workspace, "member@shop.test", "member")
    log_in(page, member.email, PASSWORD)
    page.goto("/settings/billing/")
    page.get_by_text("Owners and admins buy credits.").wait_for()
    assert page.get_by_role("button", name="5,000 credits").count() == 0
    assert page.get_by_role("button", name="Buy credits").count() == 0
    assert page.get_by_role("button", name="Save a card").count() == 0
    both_widths(page, screenshot, "billing-member")
