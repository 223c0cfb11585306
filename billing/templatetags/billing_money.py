"""Money for people: micro-credits and cents formatted at the edge (never floats)."""

from decimal import Decimal

from django import template

from billing.invoices import cents_display
from billing.money import USD_PER_CREDIT, micro_to_credits

register = template.Library()


def _trimmed(value, min_places=2, max_places=6):
    """1234.5 → '1,234.50'; 0.00872083 → '0.008721' (rounded to max_places)."""
    value = value.quantize(Decimal(1).scaleb(-max_places))
    text = f"{value:,.{max_places}f}"
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0").ljust(min_places, "0")
    return f"{whole}.{frac}"


@register.filter
def credits(micro):
    """Micro-credits → '1,234.50'."""
    return _trimmed(micro_to_credits(int(micro or 0)))


@register.filter
def signed_credits(micro):
    micro = int(micro or 0)
    return ("+" if micro > 0 else "−" if micro < 0 else "") + _trimmed(micro_to_credits(abs(micro)))


@register.filter
def usd(micro):
    """Micro-credits → 'USD 12.35' (more places only where a cent is too coarse)."""
    micro = int(micro or 0)
    sign = "−" if micro < 0 else ""
    return f"{sign}USD {_trimmed(micro_to_credits(abs(micro)) * USD_PER_CREDIT)}"


@register.filter
def cents(value):
    return cents_display(int(value or 0)).replace("-", "−")


@register.filter
def credits_short(micro):
    """Micro-credits → '1,104.21' (to the hundredth, half up) for the big numbers."""
    return _trimmed(micro_to_credits(int(micro or 0)), 2, 2)
