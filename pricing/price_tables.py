"""What the /pricing page shows: the catalog in force as readable tables, plans, the estimator.

Prices come from the same catalog snapshot the engine prices with, so the page can never
disagree with a charge. Amounts are formatted here, at the edge, from exact Decimals.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from billing.models import Plan
from billing.money import USD_PER_CREDIT, credits_to_micro
from config import values
from pricing.catalog import FALLBACK_PATTERN, PriceScheme, catalog_current, now
from pricing.events import decimal_text

TEN_MINUTES = 600

UNIT_LABELS = {
    "page": "page", "image": "image", "megapixel": "megapixel of output",
    "audio_second": "second of audio", "video_second": "second of video",
    "generated_video_second": "second of generated video", "video": "video",
    "request": "request", "input_token": "input token", "output_token": "output token",
    "gpu_second": "GPU second", "inference_second": "second",
}


def credits_text(value: Decimal | int | str) -> str:
    return decimal_text(Decimal(value))


def usd_text(credits: Decimal | int | str, places: int | None = None) -> str:
    """USD of an exact credit amount: all places a price needs, or rounded for totals."""
    usd = Decimal(credits) * USD_PER_CREDIT
    if places is not None:
        return f"USD {usd.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):,}"
    text = decimal_text(usd)
    whole, _, cents = text.partition(".")
    return f"USD {int(whole):,}.{cents.ljust(2, '0')}"  # USD 0.10, not 0.1; USD 0.0000872083 stays exact


def credits_amount(micro: int) -> str:
    """An amount on a page: '4,936.00 credits' (config.values, the one way; exact
    micro-credits are for receipts)."""
    return values.credits(micro)


def usd_amount(micro: int) -> str:
    """An amount in dollars on a page: 'USD 49.36' (config.values, the one way)."""
    return values.usd(micro)


def quantity_text(quantity: Decimal) -> str:
    """1234 -> '1,234'; 2.50 -> '2.5'."""
    return f"{Decimal(quantity).normalize():,f}"


@dataclass
class Cell:
    credits: str
    usd: str


def _cell(value):
    return Cell(credits_text(value), usd_text(value)) if value is not None else None


def _per(version):
    if version.segment_seconds:
        minutes = version.segment_seconds // 60 if version.segment_seconds % 60 == 0 else None
        span = f"{minutes}-minute" if minutes else f"{version.segment_seconds}-second"
        return f"per started {span} segment"
    return f"per {UNIT_LABELS.get(version.unit, version.unit)}"


def pricing_tables(at: datetime | None = None) -> dict:
    at = at or now()
    catalog = catalog_current()
    listing = catalog.public_listing(at)
    current = [v for v in listing if v.effective_from <= at]
    scheduled = [v for v in listing if v.effective_from > at]

    tiered = [
        {"product": v.product, "per": _per(v), "lo": _cell(v.price_lo), "auto": _cell(v.price_auto),
         "hi": _cell(v.price_hi), "grounding": _cell(v.grounding_price), "description": v.description}
        for v in current if v.scheme == PriceScheme.TIERED
    ]
    flat = {}
    for v in current:
        if v.scheme != PriceScheme.FLAT:
            continue
        # One row per product: custom.* per page and per image at the same price read as one.
        row = flat.setdefault((v.product, v.price), {
            "product": v.product, "per": [], "price": _cell(v.price),
            "description": v.description, "example": v.is_example,
        })
        row["per"].append(UNIT_LABELS.get(v.unit, v.unit))
    flat_rows = [dict(row, per="per " + " or ".join(row["per"])) for row in flat.values()]

    rate_tables = []
    for v in current:
        if v.scheme != PriceScheme.RATES:
            continue
        rate_tables.append({
            "product": v.product,
            "title": v.description or v.product,
            "kind": v.rate_kind,
            "example": v.is_example,
            "fallback": v.product == FALLBACK_PATTERN,
            "rows": [
                {"key": key, "label": label or key, "gpu_ram_gb": gb,
                 "usd_per_second": usd_text(rate), "credits_per_second": credits_text(rate),
                 "ten_minutes_credits": credits_amount(credits_to_micro(rate * TEN_MINUTES)),
                 "ten_minutes_usd": usd_text(rate * TEN_MINUTES, places=2)}
                for key, label, gb, rate in v.rates
            ],
        })

    return {
        "tiered_prices": tiered,
        "flat_prices": [r for r in flat_rows if not r["example"]],
        "example_prices": [r for r in flat_rows if r["example"]],
        "rate_tables": rate_tables,
        "scheduled_prices": [
            {"product": v.product, "per": _per(v), "effective_from": v.effective_from, "description": v.description}
            for v in scheduled
        ],
        "machines": [{"key": r["key"], "label": r["label"]}
                     for t in rate_tables if t["kind"] == "machine" for r in t["rows"]],
        "custom_price": _flat_price(flat_rows, "custom.*"),
        "enterprise_price": _flat_price(flat_rows, "enterprise.*"),
    }


def _flat_price(rows, product):
    return next((row["price"] for row in rows if row["product"] == product), None)


def plans_table() -> dict:
    """Public plans as columns and the seeds' descriptive rows (docs/design.md "Plans")."""
    plans = list(Plan.objects.filter(is_public=True).order_by("sort_order", "price_cents"))

    def price(plan):
        if plan.price_is_custom:
            return "Custom"
        if plan.price_cents == 0:
            return "Free · USD 0.01 per credit"
        return f"USD {plan.price_cents // 100:,} / month"

    def credits(plan):
        parts = []
        if plan.included_credits:
            parts.append(f"{plan.included_credits:,} included per month")
        if plan.one_time_credits:
            parts.append(f"{plan.one_time_credits:,} free at sign-up")
        return ", ".join(parts) or ("Custom" if plan.price_is_custom else "Pay as you go")

    def rate(plan):
        return f"{plan.requests_per_minute:,} requests / min" if plan.requests_per_minute else "No limits"

    def custom(plan):
        if plan.custom_models_allowed is None:
            return "Unlimited"
        if plan.custom_models_allowed == 0:
            return "Pre-configured only"
        return f"Up to {plan.custom_models_allowed}"

    rows = [
        ("Price", price), ("Billing", lambda p: p.billing_summary), ("Credits", credits),
        ("Rate limit", rate), ("Custom models", custom), ("Support", lambda p: p.support),
        ("Data retention", lambda p: p.data_retention), ("Compliance", lambda p: p.compliance),
        ("Deployments", lambda p: p.deployments), ("Service level", lambda p: p.service_level),
    ]
    return {"plans": plans, "plan_rows": [(label, [fn(p) or "—" for p in plans]) for label, fn in rows]}
