"""Staff: charging an event that was kept unpriced, once a price for it exists."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apikeys.services import key_spend_add
from billing.ledger import credits_charge
from pricing.events import parse_event
from pricing.quote import price_event
from usage.models import UsageEvent
from usage.preparing import usage_reference


def unpriced_event_charge(usage_event: UsageEvent, *, now: datetime | None = None) -> bool:
    """Price an unpriced event with today's catalog and charge it once. Returns True if charged.

    Goes through the same parse, price and ledger functions as the gateway; the ledger
    reference of the event id makes a second click (or two staff at once) charge nothing.
    """
    now = now or timezone.now()
    with transaction.atomic():
        event_row = UsageEvent.objects.select_for_update().select_related("key__workspace").get(pk=usage_event.pk)
        if not event_row.is_unpriced:
            return False
        event = parse_event(_raw_from_row(event_row), gateway=True)
        quote = price_event(event, workspace=event_row.key.workspace, at=now)
        charged = int(quote.total_micro)
        if charged > 0:
            posting = credits_charge(
                workspace=event_row.workspace_id, amount_micro=charged,
                reference=usage_reference(workspace_id=event_row.workspace_id, event_id=event_row.event_id),
                memo=f"{event_row.product} ({event_row.event_id}), priced by staff"[:200],
            )
            if not posting.created:
                return False
            key_spend_add(event_row.key, charged)
        UsageEvent.objects.filter(pk=event_row.pk).update(
            billed=True, not_billed_reason="", charged_micro=charged, charged_at=now, touched_at=timezone.now(),
            breakdown=quote.breakdown,
            price_versions=quote.price_versions,
        )
    return True


def _raw_from_row(row: UsageEvent) -> dict:
    raw = {
        "id": row.event_id, "key_id": row.key.public_id, "product": row.product,
        "status_code": row.status_code,
        "occurred_at": row.occurred_at.isoformat().replace("+00:00", "Z"),
    }
    if row.quantity:
        raw.update(tier=row.tier or "auto", grounding=row.grounding, quantity=row.quantity)
    if row.lines:
        raw["lines"] = row.lines
    return raw
