"""Formatting money for people: credits and USD from integer micro-credits (no floats)."""

from decimal import ROUND_HALF_UP, Decimal

from django import template

from billing.money import MICRO, USD_PER_CREDIT

register = template.Library()


def _places(value, most):
    """Two places, or up to `most` when the amount needs them (0.052325 credits)."""
    two = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if two == value:
        return f"{two:,.2f}"
    fine = value.quantize(Decimal(1).scaleb(-most), rounding=ROUND_HALF_UP).normalize()
    return f"{fine:,f}"


@register.filter
def credits(micro):
    """1234500000 -> '1,234.50'."""
    if micro in (None, ""):
        return "—"
    return _places(Decimal(int(micro)) / MICRO, 6)


@register.filter
def usd(micro):
    """Credits in micro-credits as US dollars: 1234500000 -> '$12.35' (more places below a cent)."""
    if micro in (None, ""):
        return "—"
    value = Decimal(int(micro)) / MICRO * USD_PER_CREDIT
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value and value < Decimal("0.01"):
        return f"{sign}${_places(value, 6)}"
    return f"{sign}${value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f}"
