"""Credits as integers of micro-credits, and their formatting at the edges.

1 credit = USD 0.01 = 1,000,000 micro-credits. A binary float never touches money: prices
are Decimals, amounts are ints, and formatting happens only for people and JSON.
"""

from decimal import ROUND_HALF_UP, Decimal

# The units are defined next to the template filters that show them (config, left of every
# app, so any app's templates can load those filters).
from config.values import MICRO, USD_PER_CREDIT


def credits_to_micro(credits: int | str | Decimal) -> int:
    """Exact credits (int, Decimal or decimal string) to micro-credits, rounded half up."""
    value = Decimal(str(credits)) if not isinstance(credits, Decimal) else credits
    return int((value * MICRO).to_integral_value(rounding=ROUND_HALF_UP))


def micro_to_credits(micro: int) -> Decimal:
    return Decimal(micro) / MICRO


def format_credits(micro: int) -> str:
    """'95.000000': the API's decimal string of credits, six places."""
    return f"{micro_to_credits(micro):.6f}"


def format_usd(micro: int, places: int = 6) -> str:
    usd = micro_to_credits(micro) * USD_PER_CREDIT
    return f"{usd.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):.{places}f}"


def usd_cents(micro: int) -> int:
    """Whole US cents for invoices: credits are cents, rounded half up."""
    return int(micro_to_credits(micro).to_integral_value(rounding=ROUND_HALF_UP))
