"""This app's part of `manage.py seed_demo` (idempotent): the owner's sign-up bonus and a
5,000-credit pack purchase with its paid invoice, written through the same functions real
purchases will use."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from billing.invoices import LineSpec, invoice_create
from billing.ledger import ledger_post
from billing.models import EntryKind, InvoiceStatus
from billing.money import MICRO, USD_PER_CREDIT
from billing.services import signup_bonus_grant

PACK_CREDITS = 5_000


def seed(demo):
    workspace = demo.workspace
    signup_bonus_grant(demo.owner)
    reference = f"demo:pack:{workspace.slug}"
    bought_at = timezone.now() - timedelta(days=20)
    ledger_post(
        workspace=workspace, kind=EntryKind.PURCHASE, amount_micro=PACK_CREDITS * MICRO,
        reference=reference, memo=f"Credit pack: {PACK_CREDITS:,} credits", actor=demo.owner, at=bought_at,
    )
    invoice_create(
        workspace=workspace, reference=reference, status=InvoiceStatus.PAID, issued_on=bought_at.date(),
        lines=[LineSpec(
            description=f"Credit pack, {PACK_CREDITS:,} credits", amount_cents=PACK_CREDITS,
            quantity=Decimal(PACK_CREDITS), unit="credit", unit_amount_usd=USD_PER_CREDIT,
        )],
    )
