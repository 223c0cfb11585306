"""This app's part of `manage.py seed_demo` (idempotent): the owner's sign-up bonus and a
5,000-credit pack bought with a card, fulfilled by the same function as a real purchase
(billing.fulfil.credits_purchase_fulfil: credits under `pi:<id>` and the paid invoice)."""

from datetime import timedelta

from django.utils import timezone

from billing.fulfil import credits_purchase_fulfil
from billing.services import signup_bonus_grant

PACK_CREDITS = 5_000


def seed(demo):
    workspace = demo.workspace
    signup_bonus_grant(demo.owner)
    credits_purchase_fulfil(
        workspace=workspace, payment_intent_id=f"demo_pack_{workspace.slug}", credits=PACK_CREDITS,
        amount_cents=PACK_CREDITS, actor=demo.owner, at=timezone.now() - timedelta(days=20),
        description=f"Credit pack: {PACK_CREDITS:,} credits",
    )
