"""Invoices: sequential numbers, one per cycle, and a PDF that shows the right totals."""

import io
import re
from decimal import Decimal

import pytest
from pypdf import PdfReader

from billing.closing import cycles_close_due
from billing.invoices import LineSpec, invoice_create
from billing.models import Invoice
from tests.billing.helpers import charge, start_on, utc

pytestmark = pytest.mark.django_db


def test_numbers_are_sequential_across_workspaces(workspace, outsider):
    other = outsider.memberships.get().workspace
    made = [
        invoice_create(workspace=ws, lines=[LineSpec("Credit pack", 500)], reference=f"r{n}")[0]
        for n, ws in enumerate([workspace, other, workspace])
    ]
    numbers = [int(re.fullmatch(r"MD-\d{4}-(\d{6})", i.number).group(1)) for i in made]
    assert numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2]


def test_the_same_reference_invoices_once(workspace):
    first, created = invoice_create(workspace=workspace, lines=[LineSpec("Pack", 500)], reference="pay_1")
    again, created_again = invoice_create(workspace=workspace, lines=[LineSpec("Pack", 500)], reference="pay_1")
    assert created and not created_again and first.pk == again.pk
    assert Invoice.objects.count() == 1


def _pdf_text(response):
    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(b"".join(response.streaming_content) if response.streaming else response.content))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_invoice_pdf_shows_lines_and_totals(workspace, owner, client_for):
    start_on(workspace, plan="enterprise", anchor_day=1, start=utc(2026, 3, 1), custom_fee_cents=250_000,
             volume_tiers=[{"above": 1_000_000, "discount_percent": "10"}])
    charge(workspace, 1_200_000, "u1", at=utc(2026, 3, 9))
    [result] = cycles_close_due(at=utc(2026, 4, 1))
    invoice = result.invoice

    text = _pdf_text(client_for(owner).get(f"/settings/billing/invoices/{invoice.number}.pdf"))

    assert invoice.number in text
    assert "Enterprise plan" in text and "USD 2,500.00" in text
    assert "Overage at USD 0.01 per credit" in text and "USD 12,000.00" in text
    assert "-USD 200.00" in text  # 10% of the 200,000 credits above 1M = 20,000 credits
    assert "Total USD 14,300.00" in text
    assert invoice.total_cents == 250_000 + 1_200_000 - 20_000


def test_another_workspace_cannot_download_the_pdf(workspace, outsider, client_for):
    invoice, _ = invoice_create(workspace=workspace, lines=[LineSpec("Pack", 500, Decimal(500), "credit")], reference="x")
    response = client_for(outsider).get(f"/settings/billing/invoices/{invoice.number}.pdf")
    assert response.status_code == 404
