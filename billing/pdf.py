"""An invoice as a PDF, drawn with fpdf2 (pure Python: no system packages)."""

from django.conf import settings
from fpdf import FPDF

from billing.details import country_name
from billing.invoices import cents_display
from config.values import day, number, period, quantity


def _text(value):
    # The core PDF fonts are Latin-1: replace what they cannot draw instead of failing.
    return str(value).replace("\u2013", "-").replace("\u2014", "-").encode("latin-1", "replace").decode("latin-1")


def _quantity(line):
    """'1 month', '1,200,000.5 credits': the line's quantity with its unit in words."""
    return quantity(line.quantity, line.unit) if line.unit else number(line.quantity)


def _seller(invoice):
    """The seller as copied onto the invoice; one issued before sellers were copied shows
    today's settings."""
    if invoice.seller_name:
        return invoice.seller_name, invoice.seller_address
    return settings.INVOICE_SELLER_NAME, settings.INVOICE_SELLER_ADDRESS


def _customer_lines(invoice):
    """The customer's billing details as copied when the invoice was issued; the workspace's
    name for an invoice issued before any were saved."""
    lines = [invoice.customer_name or invoice.workspace.name]
    lines += [line for line in invoice.customer_address.splitlines() if line.strip()]
    if invoice.customer_country:
        lines.append(country_name(invoice.customer_country))
    if invoice.customer_tax_id:
        lines.append(f"Tax ID: {invoice.customer_tax_id}")
    if invoice.customer_email:
        lines.append(invoice.customer_email)
    lines.append(f"Workspace: {invoice.workspace.slug}")
    return lines


def _parties(pdf, invoice):
    """Seller on the left, customer on the right, each a block of lines."""
    seller_name, seller_address = _seller(invoice)
    seller = [seller_name] + [line for line in seller_address.splitlines() if line.strip()]
    customer = _customer_lines(invoice)
    top = pdf.get_y()
    for column, (title, lines) in enumerate((("From", seller), ("Billed to", customer))):
        pdf.set_xy(pdf.l_margin + column * 95, top)
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(90, 5, title, new_x="LEFT", new_y="NEXT")
        for n, line in enumerate(lines):
            pdf.set_font("Helvetica", "B" if n == 0 else "", 10)
            pdf.cell(90, 5, _text(line[:70]), new_x="LEFT", new_y="NEXT")
    pdf.set_xy(pdf.l_margin, top + 5 * (1 + max(len(seller), len(customer))) + 6)


def invoice_pdf(invoice):
    """The PDF bytes of an invoice: both parties, date, period, line items and totals in USD."""
    seller_name, _ = _seller(invoice)
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_title(f"Invoice {invoice.number}")
    pdf.set_author(_text(seller_name))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, _text(f"Invoice {invoice.number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    _parties(pdf, invoice)
    pdf.set_font("Helvetica", "", 10)
    rows = [
        ("Invoice number", invoice.number),
        ("Date", day(invoice.issued_on)),
        ("Status", invoice.get_status_display()),
    ]
    if invoice.period_start and invoice.period_end:
        rows.append(("Period", f"{period(invoice.period_start, invoice.period_end)} (UTC)"))
    for label, value in rows:
        pdf.cell(40, 6, _text(label))
        pdf.cell(0, 6, _text(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)

    widths = (95, 45, 40)
    pdf.set_font("Helvetica", "B", 10)
    for width, title, align in zip(widths, ("Description", "Quantity", "Amount"), "LRR"):
        pdf.cell(width, 8, title, border="B", align=align)
    pdf.ln()
    pdf.set_font("Helvetica", "", 10)
    for line in invoice.lines.all():
        pdf.cell(widths[0], 7, _text(line.description[:60]))
        pdf.cell(widths[1], 7, _text(_quantity(line)), align="R")
        pdf.cell(widths[2], 7, _text(cents_display(line.amount_cents)), align="R")
        pdf.ln()
    pdf.ln(3)
    totals = [("Subtotal", invoice.subtotal_cents)]
    if invoice.discount_cents:
        totals.append(("Volume discounts", invoice.discount_cents))
    totals.append(("Total", invoice.total_cents))
    for label, cents in totals:
        pdf.set_font("Helvetica", "B" if label == "Total" else "", 10)
        pdf.cell(widths[0] + widths[1], 7, label, align="R")
        pdf.cell(widths[2], 7, _text(cents_display(cents)), align="R")
        pdf.ln()
    pdf.ln(8)
    pdf.set_font("Helvetica", "", 8)
    pdf.multi_cell(0, 4, _text(
        "1 credit = USD 0.01. Amounts are in US dollars. "
        + ("Paid, thank you." if invoice.status == "paid" else
           "Void: nothing is owed." if invoice.status == "void" else "Due on receipt.")
    ))
    return bytes(pdf.output())
