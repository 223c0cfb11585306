from decimal import ROUND_HALF_UP, Decimal

from django import template

from billing.money import micro_to_credits

register = template.Library()


@register.filter
def credits_short(micro):
    """Micro-credits for people: '1,234.57' (two places; the API keeps six)."""
    value = micro_to_credits(micro or 0).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{value:,}"
