"""Preparing a gateway usage event: parsed, its key known, priced, its answer and row built.

Nothing here writes. A refused event raises its ApiError (400/401): the single call lets
it answer as it is, and the batch boundary (usage.services) puts it in the event's slot.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace

from django.utils import timezone

from apikeys.models import APIKey
from apikeys.services import key_for_usage
from billing.money import format_credits, format_usd
from config.api import ApiError, InvalidRequest, text_is_safe
from config.ttlcache import TtlCache
from pricing.events import Event, event_as_dict, event_canonical, parse_event
from pricing.quote import UnknownProduct, price_event
from usage.models import NotBilledReason


@dataclass
class UsageResult:
    """A recordable event's answer: (status, body) as the API writes it out."""

    status: int
    body: dict


@dataclass
class PreparedEvent:
    """One event on its way in: parsed, its key known, priced."""

    index: int
    now: datetime  # when it was received
    event_id: str | None = None
    event: Event | None = None
    key: APIKey | None = None
    workspace_id: int | None = None
    body_hash: str = ""
    parsed: dict | None = None  # event_as_dict of the event
    charged_micro: int = 0  # what is charged: 0 unless billed
    billed: bool = False
    reason: str = ""
    unpriced_reason: str = ""
    breakdown: list = field(default_factory=list)
    price_versions: list = field(default_factory=list)
    result: UsageResult | None = None  # filled by the write
    error: ApiError | None = None  # an event the write refused (e.g. text the database cannot store)

    @property
    def reference(self) -> str:
        return usage_reference(workspace_id=self.workspace_id, event_id=self.event_id)

    @property
    def memo(self) -> str:
        return f"{self.event.product} ({self.event_id})"[:200]


def usage_reference(*, workspace_id: int, event_id: str) -> str:
    """The ledger reference of a usage event: unique, so an event is charged once."""
    return f"usage:{workspace_id}:{event_id}"


def body_hash(event: Event, as_dict: dict | None = None) -> str:
    """SHA-256 of the parsed event, so key order and 2 vs "2.0" do not matter."""
    return hashlib.sha256(event_canonical(event, as_dict).encode()).hexdigest()


# Safe to keep a minute: a key's workspace never changes, and revoked or expired keys are
# charged too (docs/api.md), so nothing a revoke changes matters here.
_keys: TtlCache[APIKey] = TtlCache(ttl_seconds=60)


def event_prepare(*, index: int, raw: object, now: datetime) -> PreparedEvent:
    """Parse, find the key and price one event as received; raises ApiError when refused."""
    prepared = PreparedEvent(index=index, now=now)
    if not isinstance(raw, dict):
        raise InvalidRequest("An event must be a JSON object.")
    prepared.event_id = event_id_of(raw)
    event = parse_event(raw, gateway=True)
    prepared.event = event
    prepared.event_id = event.id
    key = _keys.get(event.key_id, load=lambda: key_for_usage(event.key_id))
    if key is None:
        raise ApiError("No API key has this key_id.", "key_id", status=401, code="invalid_api_key")
    prepared.key = key
    prepared.workspace_id = key.workspace_id
    prepared.parsed = event_as_dict(event)
    prepared.body_hash = body_hash(event, prepared.parsed)
    _price(prepared)
    return prepared


def event_id_of(raw: object) -> str | None:
    """The id a refused event's slot shows: what the caller sent, if it is text we may echo."""
    value = raw.get("id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) and text_is_safe(value) else None


def _price(prepared: PreparedEvent) -> None:
    """Price with the catalog in force at the event's time (pricing.quote's rule).

    4xx/5xx come back not billed (with their rows where priceable); only a successful
    event can be unpriced.
    """
    try:
        quote = price_event(prepared.event, workspace=prepared.key.workspace)
    except UnknownProduct as error:
        prepared.reason = NotBilledReason.UNKNOWN_PRODUCT
        prepared.unpriced_reason = error.message
        return
    prepared.breakdown = quote.breakdown
    prepared.price_versions = quote.price_versions
    if not quote.billed:
        prepared.reason = quote.not_billed_reason
        return
    prepared.billed = True
    prepared.charged_micro = int(quote.total_micro)


def error_body(error: ApiError) -> dict:
    return {"error": {"code": error.code, "message": error.message, "param": error.param}}


def event_response(prepared: PreparedEvent, *, balance_micro: int) -> UsageResult:
    """The first answer for a recordable event."""
    if prepared.reason == NotBilledReason.UNKNOWN_PRODUCT:
        body = error_body(UnknownProduct(
            f"{prepared.unpriced_reason} The event was kept as unpriced and will be charged "
            "once staff add a price for it."
        ))
        body["id"] = prepared.event_id
        return UsageResult(404, body)
    body = {
        "id": prepared.event_id,
        "billed": prepared.billed,
        "charged": format_credits(prepared.charged_micro) if prepared.billed else "0",
        "usd": format_usd(prepared.charged_micro) if prepared.billed else "0",
        "breakdown": prepared.breakdown,
        "balance": format_credits(balance_micro),
    }
    if not prepared.billed:
        body["not_billed_reason"] = prepared.reason
    return UsageResult(200, body)


def event_row(prepared: PreparedEvent, result: UsageResult, *, retention_days: int | None) -> SimpleNamespace:
    """The event's column values by attname (not a model instance: the insert reads them
    with getattr, and a model's __init__ costs more than the rest of this function).

    retention_days=None leaves metadata for the writing statement to keep or drop
    (usage.pgwrite reads the plan's retention in its own snapshot); 0 never stores it.
    """
    event, parsed, now = prepared.event, prepared.parsed, prepared.now
    metadata = event.metadata or None
    metadata_expires_at = None
    if metadata and retention_days is not None:
        if retention_days:
            metadata_expires_at = now + timedelta(days=retention_days)
        else:
            metadata = None  # zero data retention: never stored at all
    charged = prepared.billed and prepared.charged_micro > 0
    return SimpleNamespace(
        workspace_id=prepared.workspace_id,
        key_id=prepared.key.pk,
        event_id=prepared.event_id,
        product=event.product,
        tier=event.tier if event.line else "",
        grounding=event.grounding,
        quantity=parsed["line"]["quantity"] if parsed["line"] else {},
        lines=parsed["lines"] or None,
        status_code=event.status_code,
        queue_seconds=parsed["queue_seconds"],
        occurred_at=event.occurred_at or now,
        received_at=now,
        charged_at=now if charged else None,
        # The real time, also for back-dated writes, so the roll-up's watermark sees them.
        touched_at=timezone.now(),
        price_versions=prepared.price_versions,
        breakdown=prepared.breakdown,
        charged_micro=prepared.charged_micro if prepared.billed else 0,
        billed=prepared.billed,
        not_billed_reason=prepared.reason,
        unpriced_reason=prepared.unpriced_reason,
        body_hash=prepared.body_hash,
        response_status=result.status,
        response=result.body,
        metadata=metadata,
        metadata_expires_at=metadata_expires_at,
    )


def event_replayed(prepared: PreparedEvent, stored: dict | None) -> UsageResult:
    """The stored first answer of an id recorded before, or 409 when the body differs."""
    if stored is None:
        raise RuntimeError("An event id conflicted but no stored event was found.")
    if stored["body_hash"] != prepared.body_hash:
        return UsageResult(409, error_body(ApiError(
            f"Event id {prepared.event_id!r} was already recorded with a different body. "
            "Use a new id for a new request.", "id", status=409, code="idempotency_conflict",
        )))
    return UsageResult(stored["response_status"], stored["response"])
