"""Billing details: owners and admins say who invoices are made out to; an invoice copies
them and the seller when it is issued, and its PDF shows both, never a later edit."""

import io

import pytest
from django.test import Client, override_settings
from pypdf import PdfReader

from billing.closing import cycles_close_due
from billing.invoices import LineSpec, invoice_create
from billing.models import BillingDetails
from tests.billing.helpers import charge, start_on, utc
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

DETAILS = {
    "legal_name": "Acme Analytics GmbH", "address": "Invalidenstraße 117\n10115 Berlin",
    "country": "DE", "tax_id": "de 123456789", "email": "invoices@acme.example",
}


def _pdf_text(client, invoice):
    response = client.get(f"/settings/billing/invoices/{invoice.number}.pdf")
    assert response["Content-Type"] == "application/pdf"
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)


@override_settings(INVOICE_SELLER_NAME="Meterdesk Inc.", INVOICE_SELLER_ADDRESS="1 Seller Way\nSpringfield 12345")
def test_the_pdf_carries_seller_customer_and_period_as_issued(workspace, owner, client_for):
    client = client_for(owner)
    response = client.post("/settings/billing/details/", DETAILS)
    assert response.status_code == 302
    start_on(workspace, plan="enterprise", anchor_day=1, start=utc(2026, 3, 1), custom_fee_cents=250_000)
    charge(workspace, 10, "u1", at=utc(2026, 3, 9))
    [closed] = cycles_close_due(at=utc(2026, 4, 1))

    client.post("/settings/billing/details/", {**DETAILS, "legal_name": "Renamed Later Ltd", "country": "GB"})
    with override_settings(INVOICE_SELLER_NAME="Someone Else", INVOICE_SELLER_ADDRESS="Elsewhere"):
        text = _pdf_text(client, closed.invoice)

    assert "Meterdesk Inc." in text and "1 Seller Way" in text and "Springfield 12345" in text
    assert "Acme Analytics GmbH" in text and "10115 Berlin" in text and "Germany" in text
    assert "Tax ID: DE 123456789" in text and "invoices@acme.example" in text
    assert "Renamed Later Ltd" not in text and "Someone Else" not in text  # issued is issued
    assert "Period 1 Mar - 31 Mar 2026 (UTC)" in text
    assert "Enterprise plan, 1 Mar - 31 Mar 2026 1 month USD 2,500.00" in text  # the line: its days, its unit


def test_the_next_invoice_takes_the_edited_details(workspace, owner, client_for):
    client = client_for(owner)
    client.post("/settings/billing/details/", DETAILS)
    first, _ = invoice_create(workspace=workspace, lines=[LineSpec("Credit pack", 500)], reference="p1")
    client.post("/settings/billing/details/", {**DETAILS, "legal_name": "Acme Holding AG", "country": "CH"})
    second, _ = invoice_create(workspace=workspace, lines=[LineSpec("Credit pack", 500)], reference="p2")
    first.refresh_from_db()
    assert (first.customer_name, first.customer_country) == ("Acme Analytics GmbH", "DE")
    assert (second.customer_name, second.customer_country) == ("Acme Holding AG", "CH")
    assert "Acme Holding AG" in _pdf_text(client, second) and "Switzerland" in _pdf_text(client, second)


def test_without_details_the_invoice_names_the_workspace_and_the_default_seller(workspace, owner, client_for):
    invoice, _ = invoice_create(workspace=workspace, lines=[LineSpec("Credit pack", 500)], reference="p1")
    text = _pdf_text(client_for(owner), invoice)
    assert "Billed to" in text and workspace.name in text
    assert "From" in text and "Meterdesk" in text and "100 Example Street" in text


@pytest.mark.parametrize("field, value, message", [
    ("legal_name", "  ", "Enter the company's or your legal name"),
    ("address", "", "Enter the billing address"),
    ("country", "XX", "Choose the country from the list."),
    ("country", "", "Choose the country of the billing address."),
    ("tax_id", "DE<script>", "A tax ID is 2 to 32 letters and digits"),
    ("email", "invoices-at-acme", "Enter a whole e-mail address, like billing@example.com."),
    ("address", "a\nb\nc\nd\ne\nf\ng", "The address fits in 6 lines or fewer."),
])
def test_bad_input_is_refused_with_a_message_at_the_field(workspace, owner, client_for, field, value, message):
    response = client_for(owner).post("/settings/billing/details/", {**DETAILS, field: value})
    page = response.content.decode()
    assert response.status_code == 400
    assert message in page.replace("&#x27;", "'")
    assert f'id="billing-{field}-error"' in page and 'aria-invalid="true"' in page
    assert "Acme Analytics GmbH" in page or field == "legal_name"  # what was typed stays in the form
    assert not BillingDetails.objects.filter(workspace=workspace).exists()


def test_members_see_the_details_but_only_owners_and_admins_change_them(workspace, admin_user, member, client_for):
    assert client_for(admin_user).post("/settings/billing/details/", DETAILS).status_code == 302
    assert client_for(member).post("/settings/billing/details/", {**DETAILS, "legal_name": "Mine"}).status_code == 403
    page = client_for(member).get("/settings/billing/").content.decode()
    assert "Acme Analytics GmbH" in page and "Germany" in page and "Save billing details" not in page
    assert BillingDetails.objects.get(workspace=workspace).legal_name == "Acme Analytics GmbH"


def test_another_workspace_never_sees_or_changes_them(workspace, owner, outsider, client_for):
    client_for(owner).post("/settings/billing/details/", DETAILS)
    theirs = client_for(outsider)
    assert "Acme Analytics GmbH" not in theirs.get("/settings/billing/").content.decode()
    theirs.post("/settings/billing/details/", {**DETAILS, "legal_name": "Other Co Ltd"})
    assert BillingDetails.objects.get(workspace=workspace).legal_name == "Acme Analytics GmbH"


def test_the_invoice_lists_show_a_cycle_invoice_s_period(workspace, owner, client_for):
    start_on(workspace, plan="enterprise", anchor_day=1, start=utc(2026, 3, 1), custom_fee_cents=250_000)
    cycles_close_due(at=utc(2026, 4, 1))
    client = client_for(owner)
    for path in ("/settings/billing/invoices/", "/settings/billing/"):
        page = client.get(path).content.decode()
        assert '<td data-label="Period" class="nowrap">1 Mar – 31 Mar 2026</td>' in page, path


def test_staff_see_an_issued_invoice_s_parties_but_cannot_edit_them(workspace, owner, client_for):
    client_for(owner).post("/settings/billing/details/", DETAILS)
    invoice, _ = invoice_create(workspace=workspace, lines=[LineSpec("Credit pack", 500)], reference="p1")
    staff_client = Client()
    staff_client.force_login(UserFactory(email="staff@example.com", is_staff=True, is_superuser=True))
    page = staff_client.get(f"/admin/billing/invoice/{invoice.pk}/change/").content.decode()
    assert "Acme Analytics GmbH" in page and "Meterdesk" in page
    for field in ("seller_name", "seller_address", "customer_name", "customer_address", "customer_tax_id"):
        assert f'name="{field}"' not in page
