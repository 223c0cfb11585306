"""An invoice as a PDF, drawn with fpdf2 (pure Python: no system packages)."""

from fpdf import FPDF

from billing.invoices import cents_display

SELLER = "Meterdesk"


def _text(value):
    # The core PDF fonts are Latin-1: replace what they cannot draw instead of failing.
    return str(value).replace("\u2013", "-").replace("\u2014", "-").encode("latin-1", "replace").decode("latin-1")


def _quantity(line):
    q = line.quantity.normalize()
    text = f"{q:,f}"
    return f"{text} {line.unit}".strip()


def invoice_pdf(invoice):
    """The PDF bytes of an invoice: header, period, line items and totals in USD."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_title(f"Invoice {invoice.number}")
    pdf.set_author(SELLER)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, _text(f"{SELLER} invoice"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    rows = [
        ("Invoice number", invoice.number),
        ("Date", invoice.issued_on.isoformat()),
        ("Status", invoice.get_status_display()),
        ("Billed to", f"{invoice.workspace.name} ({invoice.workspace.slug})"),
    ]
    if invoice.period_start and invoice.period_end:
        rows.append(("Period", f"{invoice.period_start:%Y-%m-%d} to {invoice.period_end:%Y-%m-%d} (UTC)"))
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
