"""Invoices: one creation function (cycle closes now, credit purchases in the payments
issue), gap-free numbers, and the PDF."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from billing.details import invoice_parties
from billing.models import BillingCycle, Invoice, InvoiceCounter, InvoiceLine, InvoiceStatus
from teams.models import Workspace

NUMBER_PREFIX = "MD"


@dataclass(frozen=True)
class LineSpec:
    description: str
    amount_cents: int
    quantity: Decimal = Decimal(1)
    unit: str = ""
    unit_amount_usd: Decimal = Decimal(0)


def invoice_number_next(issued_on: date) -> str:
    """The next number, e.g. MD-2026-000123: one counter for the whole system.

    The UPDATE takes the counter row's lock until the caller's transaction ends, so two
    invoices never get the same number and a rolled-back invoice leaves no gap.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("invoice_number_next must run inside the invoice's transaction")
    updated = InvoiceCounter.objects.filter(pk=1).update(last_number=F("last_number") + 1)
    if not updated:
        InvoiceCounter.objects.get_or_create(pk=1)  # a database made without the migration row
        InvoiceCounter.objects.filter(pk=1).update(last_number=F("last_number") + 1)
    value = InvoiceCounter.objects.values_list("last_number", flat=True).get(pk=1)
    return f"{NUMBER_PREFIX}-{issued_on.year}-{value:06d}"


def invoice_create(
    *, workspace: Workspace, lines: list[LineSpec], status: str = InvoiceStatus.OPEN,
    issued_on: date | None = None, period_start: datetime | None = None,
    period_end: datetime | None = None, cycle: BillingCycle | None = None,
    reference: str | None = None, memo: str = "",
) -> tuple[Invoice, bool]:
    """Write an invoice with its lines and totals, once per `cycle` or `reference`.

    `lines` are LineSpecs; negative amounts are discounts. Returns (invoice, created); when
    the cycle or reference already has an invoice, that one is returned unchanged. The
    seller and the customer's billing details are copied onto it as they are now.
    """
    existing = _existing(cycle, reference)
    if existing is not None:
        return existing, False
    issued_on = issued_on or timezone.now().date()
    lines = list(lines)
    subtotal = sum(line.amount_cents for line in lines if line.amount_cents > 0)
    discount = sum(line.amount_cents for line in lines if line.amount_cents < 0)
    try:
        with transaction.atomic():
            invoice = Invoice.objects.create(
                number=invoice_number_next(issued_on),
                workspace=workspace,
                status=status,
                issued_on=issued_on,
                period_start=period_start,
                period_end=period_end,
                cycle=cycle,
                reference=reference,
                subtotal_cents=subtotal,
                discount_cents=discount,
                total_cents=subtotal + discount,
                memo=memo[:200],
                paid_at=timezone.now() if status == InvoiceStatus.PAID else None,
                **invoice_parties(workspace),
            )
            InvoiceLine.objects.bulk_create(
                InvoiceLine(
                    invoice=invoice, position=n, description=line.description[:200],
                    quantity=line.quantity, unit=line.unit,
                    unit_amount_usd=line.unit_amount_usd, amount_cents=line.amount_cents,
                )
                for n, line in enumerate(lines)
            )
    except IntegrityError:
        existing = _existing(cycle, reference)
        if existing is None:
            raise
        return existing, False
    return invoice, True


def _existing(cycle, reference):
    if cycle is not None:
        found = Invoice.objects.filter(cycle=cycle).first()
        if found:
            return found
    if reference:
        return Invoice.objects.filter(reference=reference).first()
    return None


def cents_display(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}USD {cents // 100:,}.{cents % 100:02d}"
