"""The one pricing function: a parsed event in, a breakdown and a total out.

The quote route, the usage call and the /pricing estimator all call price_event(), so a
quote is what usage charges. Money rules (docs/design.md "Money"): prices are exact Decimals,
each breakdown row's cost is computed exactly and rounded once to the micro-credit (half
up), and the total is the sum of the rounded rows, so a receipt always adds up.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, localcontext
from functools import cached_property

from billing.money import MICRO, format_credits, format_usd
from config.api import ApiError, InvalidRequest
from pricing import catalog as price_catalog
from pricing.events import Event, decimal_text
from pricing.models import UNIT_QUANTITY
from teams.models import Workspace

QUANTITY_UNIT = {quantity: unit for unit, quantity in UNIT_QUANTITY.items()}
# Enough digits that quantity × price is exact for every quantity parse_event accepts.
PRECISION = 60


class UnknownProduct(ApiError):
    """No price matches the product, and there are no gpu_seconds to fall back on."""

    status = 404
    code = "unknown_product"

    def __init__(self, message, param="product"):
        super().__init__(message, param)


@dataclass(frozen=True)
class QuoteRow:
    meter: str
    unit: str
    quantity: Decimal
    unit_price: Decimal  # credits per unit, exact
    cost_micro: int  # quantity × unit_price, rounded once
    price_id: int  # the price version used: charges keep it, so history never changes
    product: str = ""


@dataclass(frozen=True)
class Quote:
    """Shared between events of the same shape (see price_event): never modify one."""

    rows: tuple
    total_micro: int  # what is charged: the sum of the rows, or 0 when not billed
    billed: bool = True
    not_billed_reason: str | None = None  # "client_error" or "server_error"

    @cached_property
    def breakdown(self):
        """The API's breakdown rows: the same for quote, usage and the estimator."""
        return [row_payload(row) for row in self.rows]

    @cached_property
    def price_versions(self):
        """The ids of the price versions the rows used, kept with every charge."""
        return sorted({row.price_id for row in self.rows} - {None})


def price_event(event: Event, *, workspace: Workspace | None = None, at: datetime | None = None) -> Quote:
    """Price a parsed usage event (pricing.events.Event) with the catalog in force at `at`.

    `at` defaults to the event's occurred_at (never later than now: a future timestamp must
    not reach a scheduled price), else now. With a workspace, `custom.<model>` must be one of
    its registered models within the plan's allowance; without one (the public estimator)
    custom models are priced as the catalog says.

    A workflow is the sum of its parts. A 4xx/5xx status is recorded and not billed: the
    rows are still shown when they can be priced, and the total is 0.
    """
    now = price_catalog.now()
    if at is None:
        at = min(event.occurred_at, now) if event.occurred_at else now
    catalog = price_catalog.catalog_current()
    memo = _memo_key(event, catalog, at)
    quote = catalog.quotes.get(memo) if memo is not None else None
    if quote is None:
        quote = _quote(event, catalog, at, workspace)
        if memo is not None and len(catalog.quotes) < MEMO_SIZE:
            catalog.quotes[memo] = quote
    return quote


# Gateway traffic repeats a few shapes of event (one page of document.invoice on auto)
# thousands of times: each shape is priced once per catalog and price era.
MEMO_SIZE = 20_000


def _memo_key(event, catalog, at):
    """What a quote depends on, or None when it also depends on the workspace (custom
    models are priced only if registered) and must be worked out each time."""
    parts = event.parts
    if any(line.product.startswith("custom.") for line in parts):
        return None
    return (
        catalog.era(at), event.status_code, event.line is None,
        tuple(
            (line.product, line.tier, line.tier_given, line.grounding,
             tuple(sorted(line.quantity.items())), line.machine, line.instance)
            for line in parts
        ),
    )


def _quote(event, catalog, at, workspace):
    reason = not_billed_reason(event.status_code)

    rows = []
    try:
        for line, prefix in _parts_with_params(event):
            rows.extend(_line_rows(line, catalog, at=at, workspace=workspace, prefix=prefix))
    except (UnknownProduct, InvalidRequest):
        # A failed request may have failed precisely because of this (an unknown model,
        # grounding where none exists): it is recorded unbilled, not refused.
        if reason is None:
            raise
        rows = []
    rows = tuple(rows)
    if reason is not None:
        return Quote(rows=rows, total_micro=0, billed=False, not_billed_reason=reason)
    return Quote(rows=rows, total_micro=sum(row.cost_micro for row in rows))


def not_billed_reason(status_code: int) -> str | None:
    if status_code >= 500:
        return "server_error"
    if status_code >= 400:
        return "client_error"
    return None


def cost_micro(quantity: Decimal | int | str, unit_price: Decimal | int | str) -> int:
    """quantity × unit_price credits, exactly, rounded once to the micro-credit half up."""
    with localcontext() as context:
        context.prec = PRECISION
        exact = Decimal(quantity) * Decimal(unit_price) * MICRO
        return int(exact.to_integral_value(rounding=ROUND_HALF_UP))


def segments(seconds: Decimal, segment_seconds: int) -> Decimal:
    """Started segments: 12 minutes in 5-minute segments is 3 (a ceiling, never rounded)."""
    with localcontext() as context:
        context.prec = PRECISION
        return (Decimal(seconds) / Decimal(segment_seconds)).to_integral_value(rounding=ROUND_CEILING)


def quote_payload(quote: Quote) -> dict:
    """The API's JSON of a quote: breakdown rows and the total, as decimal strings."""
    body = {
        "billed": quote.billed,
        "total": format_credits(quote.total_micro),
        "usd": format_usd(quote.total_micro),
        "breakdown": quote.breakdown,
    }
    if not quote.billed:
        body["not_billed_reason"] = quote.not_billed_reason
    return body


def row_payload(row: QuoteRow) -> dict:
    return {
        "product": row.product,
        "meter": row.meter,
        "unit": row.unit,
        "quantity": decimal_text(row.quantity),
        "unit_price": decimal_text(row.unit_price),
        "cost": format_credits(row.cost_micro),
    }


def _parts_with_params(event):
    if event.line is not None:
        yield event.line, ""
    for index, line in enumerate(event.lines):
        yield line, f"lines[{index}]."


def _line_rows(line, catalog, *, at, workspace, prefix):
    product = line.product
    if product.startswith("custom.") and workspace is not None:
        name = product[len("custom."):]
        if not price_catalog.custom_model_usable(workspace, name):
            raise UnknownProduct(
                f"{product} is not a custom model of this workspace (or is beyond its plan's "
                "allowance); register it under Billing → Custom models.",
                param=f"{prefix}product",
            )

    matched = catalog.match(product, at)
    if matched is None:
        return _fallback_rows(line, catalog, at=at, prefix=prefix)
    _, prices = matched

    rows = []
    for quantity_key, quantity in line.quantity.items():
        unit = QUANTITY_UNIT[quantity_key]
        price = prices.get(unit)
        if price is None:
            units = ", ".join(sorted(UNIT_QUANTITY[u] for u in prices))
            raise InvalidRequest(
                f"{product} is not priced in {quantity_key}; send {units}.",
                param=f"{prefix}quantity.{quantity_key}",
            )
        rows.extend(_price_rows(line, price, quantity, prefix=prefix))

    if line.grounding:
        grounded = [p for p in prices.values() if p.grounding_price is not None]
        if not grounded:
            raise InvalidRequest(
                f"{product} does not support the grounding add-on; send grounding: false.",
                param=f"{prefix}grounding",
            )
        for quantity_key, quantity in line.quantity.items():
            price = prices[QUANTITY_UNIT[quantity_key]]
            if price.grounding_price is not None:
                rows.append(
                    QuoteRow(
                        meter=f"{price.meter}:grounding", unit=price.unit, quantity=quantity,
                        unit_price=price.grounding_price,
                        cost_micro=cost_micro(quantity, price.grounding_price),
                        price_id=price.id, product=product,
                    )
                )
    return rows


def _price_rows(line, price, quantity, *, prefix):
    unit = price.unit
    if price.segment_seconds:
        quantity = segments(quantity, price.segment_seconds)
        unit = "segment"
    if price.tiered:
        unit_price = price.tier_price(line.tier)
        meter = f"{price.meter}:{line.tier}"
    elif price.rate_kind:
        key = line.instance if price.rate_kind == "instance" else line.machine
        rates = price.rate_map
        if key not in rates:
            raise InvalidRequest(
                f"No {price.rate_kind} {key!r} for {line.product}; use one of {', '.join(rates)}.",
                param=f"{prefix}quantity.{price.rate_kind}",
            )
        unit_price = rates[key]
        meter = f"{price.meter}:{key}"
    else:
        unit_price = price.price
        meter = price.meter
    return [
        QuoteRow(
            meter=meter, unit=unit, quantity=quantity, unit_price=unit_price,
            cost_micro=cost_micro(quantity, unit_price), price_id=price.id, product=line.product,
        )
    ]


def _fallback_rows(line, catalog, *, at, prefix):
    """A model without a price of its own: per GPU-second by machine type, if it says so."""
    fallback = catalog.fallback(at)
    if "gpu_seconds" not in line.quantity or fallback is None:
        raise UnknownProduct(
            f"No price matches {line.product!r}, and the event has no gpu_seconds to fall back on.",
            param=f"{prefix}product",
        )
    if line.grounding:
        raise InvalidRequest(
            f"{line.product} does not support the grounding add-on; send grounding: false.",
            param=f"{prefix}grounding",
        )
    others = sorted(set(line.quantity) - {"gpu_seconds"})
    if others:
        raise InvalidRequest(
            f"{line.product} has no price of its own; only gpu_seconds can be billed for it.",
            param=f"{prefix}quantity.{others[0]}",
        )
    return _price_rows(line, fallback, line.quantity["gpu_seconds"], prefix=prefix)
