"""The receipt of one usage event: what was metered, which price version priced each row, how.

One function, `event_receipt`, serves GET /api/v1/usage/events/{id} and the receipt page.

Each breakdown row's price version is worked out here rather than stored per row at charge
time: an event keeps the ids of the versions its rows used (`price_versions`), a price
version is never edited once in force (docs/design.md "Prices"), and within one event each
row's version is the only one among those ids that matches the row's product, meter and
unit (a product is priced by one pattern at one moment; a more specific pattern wins, as
pricing.catalog.Catalog.match chose it). So the usage write, the hot path, stores nothing
more than it did.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext

from django.utils import timezone

from billing.money import MICRO, format_credits, format_usd
from pricing.catalog import PriceVersion, catalog_current, pattern_matches, pattern_specificity
from pricing.events import decimal_text
from pricing.models import UNIT_QUANTITY
from pricing.quote import segments
from teams.models import Workspace
from usage.models import NotBilledReason, UsageEvent
from usage.rollup import billing_fields_cutoff

# The longest event id the usage call accepts (pricing.event_schema's MAX_ID): a longer one
# was never stored.
MAX_EVENT_ID = 200


class ReceiptNotFound(Exception):
    """No receipt for this id in this workspace; str() is the sentence to show."""


@dataclass(frozen=True)
class ReceiptRow:
    product: str
    meter: str
    unit: str
    quantity: str
    unit_price: str
    cost: str
    price_version: int | None  # None: the version's row is gone from the price table
    effective_from: datetime | None
    formula: str


def event_receipt(workspace: Workspace, event_id: str, *, now: datetime | None = None) -> dict:
    """The receipt of the workspace's event `event_id` as docs/api.md's JSON object.

    Raises ReceiptNotFound for an id this workspace never sent (another workspace's id
    included: it is not told apart) and for an event older than 13 months.
    """
    now = now or timezone.now()
    event = _event_of(workspace, event_id)
    if event is None:
        raise ReceiptNotFound(
            f"No usage event with id {event_id!r} in this workspace in the last 13 months "
            "(receipts are kept for 13 months)."
        )
    if event.received_at < billing_fields_cutoff(now):
        raise ReceiptNotFound(
            f"Usage event {event_id!r} is older than 13 months: its receipt and billing "
            "details are kept for 13 months only."
        )
    return _receipt_body(event, now=now)


def _event_of(workspace, event_id):
    event_id = (event_id or "").strip()
    # Text the usage call never stores (NUL, lone surrogates, too long) has no event, and
    # PostgreSQL refuses a NUL in a query parameter.
    if not event_id or len(event_id) > MAX_EVENT_ID or "\x00" in event_id:
        return None
    try:
        event_id.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return UsageEvent.objects.filter(workspace=workspace, event_id=event_id).select_related("key").first()


def _receipt_body(event: UsageEvent, *, now: datetime) -> dict:
    unpriced = event.is_unpriced
    rows = breakdown_rows(event)
    metadata_kept = event.metadata is not None and (
        event.metadata_expires_at is None or event.metadata_expires_at > now
    )
    return {
        "id": event.event_id,
        "key_id": event.key.public_id,
        "key_name": event.key.name,
        "product": event.product,
        "tier": event.tier or None,
        "addons": ["grounding"] if event.grounding else [],
        "quantity": event.quantity or {},
        "lines": [_line_body(line) for line in event.lines or ()] or None,
        "status_code": event.status_code,
        "billed": event.billed,
        "not_billed_reason": None if event.billed else event.not_billed_reason or None,
        "not_billed": None if event.billed else not_billed_text(event),
        "breakdown": [row.__dict__ | {"effective_from": _iso(row.effective_from)} for row in rows],
        "charged": format_credits(event.charged_micro) if event.billed else "0",
        "usd": format_usd(event.charged_micro) if event.billed else "0",
        "total": format_credits(sum(_micro(row.cost) for row in rows)),
        "unpriced": unpriced,
        "queue_seconds": event.queue_seconds or None,
        "occurred_at": _iso(event.occurred_at),
        "received_at": _iso(event.received_at),
        "charged_at": _iso(event.charged_at),
        "metadata": event.metadata if metadata_kept else None,
    }


def not_billed_text(event: UsageEvent) -> str:
    """'not billed: <reason>' in words, for the API's `not_billed` and the page."""
    if event.is_unpriced:
        reason = "no price matched the product yet; it is charged once staff add a price"
    elif event.not_billed_reason == NotBilledReason.FREE:
        reason = "priced at zero"
    elif event.not_billed_reason in NotBilledReason.values:
        reason = {
            NotBilledReason.CLIENT_ERROR: f"the request failed with {event.status_code} (a client error)",
            NotBilledReason.SERVER_ERROR: f"the request failed with {event.status_code} (a server error)",
            NotBilledReason.UNKNOWN_PRODUCT: "no price matched the product",
        }[event.not_billed_reason]
    else:
        reason = event.not_billed_reason or "nothing was charged"
    return f"not billed: {reason}"


def _line_body(line):
    return {
        "product": line.get("product"),
        "tier": line.get("tier") or None,
        "addons": ["grounding"] if line.get("grounding") else [],
        "quantity": line.get("quantity") or {},
    }


def breakdown_rows(event: UsageEvent) -> list[ReceiptRow]:
    """The event's stored breakdown, each row with its price version and formula."""
    versions = _versions_by_id(event.price_versions or ())
    parts = _parts(event)
    rows = []
    for row in event.breakdown or ():
        version = _row_version(row, versions)
        rows.append(ReceiptRow(
            product=row.get("product") or event.product,
            meter=row["meter"], unit=row["unit"], quantity=row["quantity"],
            unit_price=row["unit_price"], cost=row["cost"],
            price_version=version.id if version else None,
            effective_from=version.effective_from if version else None,
            formula=row_formula(row, version, parts),
        ))
    return rows


def _versions_by_id(ids):
    """The PriceVersions of `ids` from the price catalog in memory (no query). A version
    deleted from the table since is missing: its rows show no version."""
    wanted = set(ids)
    return [version for version in catalog_current().versions if version.id in wanted]


def _row_version(row: dict, versions: list[PriceVersion]) -> PriceVersion | None:
    """The one version among the event's that priced `row` (see the module's docstring)."""
    product = row.get("product") or ""
    meter, unit = row["meter"], row["unit"]
    candidates = [
        version for version in versions
        if pattern_matches(version.product, product)
        and (meter == version.meter or meter.startswith(version.meter + ":"))
        and (unit == version.unit or (unit == "segment" and version.segment_seconds))
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda version: pattern_specificity(version.product))


def _parts(event):
    """[(product, quantity dict)] of the event's priced parts: its own line, then a
    workflow's lines (a segment row's measured seconds are found here)."""
    parts = [(event.product, event.quantity)] if event.quantity else []
    parts += [(line.get("product"), line.get("quantity") or {}) for line in event.lines or ()]
    return parts


def row_formula(row: dict, version: PriceVersion | None, parts: list) -> str:
    """'3 pages × 2 credits (tier auto) = 6.000000 credits', with started segments and the
    rounding to the micro-credit spelled out where they apply."""
    quantity, unit_price = Decimal(row["quantity"]), Decimal(row["unit_price"])
    measured = _segment_text(row, version, parts, quantity)
    counted = f"{row['quantity']} {_unit_words(row['unit'], quantity)}"
    text = f"{measured}{counted} × {row['unit_price']} credits{_qualifier(row, version)}"
    with localcontext() as context:
        context.prec = 60
        exact = quantity * unit_price
    cost = Decimal(row["cost"])
    if exact == cost:
        return f"{text} = {row['cost']} credits"
    rounded = exact.quantize(Decimal(1).scaleb(-6), rounding=ROUND_HALF_UP)
    return f"{text} = {decimal_text(exact)}, rounded half up to {format(rounded, 'f')} credits"


def _segment_text(row, version, parts, count):
    """'740 s of video_seconds in started 300 s segments: ' for a segment row."""
    if row["unit"] != "segment":
        return ""
    if version is None or not version.segment_seconds:
        return "started segments (rounded up): "
    quantity_key = UNIT_QUANTITY.get(version.unit)
    for product, quantity in parts:
        seconds = quantity.get(quantity_key)
        if product == row.get("product") and seconds is not None and segments(
            Decimal(str(seconds)), version.segment_seconds
        ) == count:
            return (f"{seconds} {_unit_words(version.unit, Decimal(str(seconds)))} in started "
                    f"{version.segment_seconds} s segments, rounded up: ")
    return f"started {version.segment_seconds} s segments (rounded up): "


def _qualifier(row, version):
    """What chose the unit price: a tier, an instance size or machine type, an add-on."""
    meter = row["meter"]
    if meter.endswith(":grounding"):
        return " (grounding add-on)"
    if version is None or ":" not in meter:
        return ""
    choice = meter.rsplit(":", 1)[1]
    if version.tiered:
        return f" (tier {choice})"
    if version.rate_kind:
        return f" ({version.rate_kind} {choice})"
    return ""


def _unit_words(unit, quantity):
    words = unit.replace("_", " ")
    return words if quantity == 1 else f"{words}s"


def _micro(text):
    return int((Decimal(text) * MICRO).to_integral_value(rounding=ROUND_HALF_UP))


def _iso(moment):
    return moment.isoformat().replace("+00:00", "Z") if moment else None
