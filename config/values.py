"""One way to show each kind of value on a page: `{% load values %}` in any template.

    {{ balance_micro|credits }}           1,253.22 credits     (pages: two places, half up)
    {{ balance_micro|credits_amount }}    1,253.22             (under a "Credits" heading)
    {{ entry.amount_micro|credits_signed }}   +1,253.22 / −0.05
    {{ charged_micro|credits_exact }}     0.052325 credits     (receipts, the ledger detail)
    {{ entry.amount_micro|credits_signed_exact }}   −0.052325   (a ledger row, a statement line)
    {{ balance_micro|usd }}               USD 12.53
    {{ charged_micro|usd_exact }}         USD 0.000523         (sub-cent: receipts only)
    {{ invoice.total_cents|cents }}       USD 12.53            (invoices count whole cents)
    {{ amount|quantity:"audio_seconds" }} 5 h 7 min of audio
    {{ row.quantity|quantities }}         1,204 pages, 5 h 7 min of audio
    {{ requests|number }}                 1,204
    {{ invoice.issued_on|day }}           28 Nov 2026
    {{ event.received_at|moment }}        28 Nov 2026, 16:14 UTC
    {{ invoice.period_start|period:invoice.period_end }}   1 Mar – 31 Mar 2026

Credits arrive as integer micro-credits and cents as integer cents; nothing here ever goes
through a binary float. The API and the CSV downloads keep their own exact six-place
strings (billing.money.format_credits); these filters are for people.

This module lives in config, left of every app, so every app's templates can load it
without breaking the app order of docs/architecture.md; billing.money takes its units from
here for the same reason.
"""

from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template

register = template.Library()

MICRO = 1_000_000  # micro-credits in a credit
USD_PER_CREDIT = Decimal("0.01")
MINUS = "\u2212"  # the minus sign, which screen readers read as "minus", unlike a hyphen

EMPTY = "—"


# --- numbers ------------------------------------------------------------------------------

def _decimal(value):
    """A Decimal from an int, Decimal or decimal string; None for nothing or nonsense."""
    if value is None or value == "" or isinstance(value, (float, bool)):
        return None
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None


def _rounded(value, places):
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _grouped(value, places):
    """1234.5 → '1,234.50' at exactly `places`, rounded half up, without its sign."""
    return f"{abs(_rounded(value, places)):,.{places}f}"


def _grouped_trimmed(value, most):
    """Up to `most` places, trailing zeros dropped but at least two: 0.000523, 12.50."""
    text = _grouped(value, most)
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.rstrip('0').ljust(2, '0')}"


def _sign(value, places, *, plus=False):
    """The sign of `value` as shown at `places`: what rounds to zero shows none."""
    shown = _rounded(value, places)
    if shown < 0:
        return MINUS
    return "+" if plus and shown > 0 else ""


def _credits_of(micro):
    micro = _decimal(micro)
    return None if micro is None else micro / MICRO


@register.filter
def number(value):
    """1204 → '1,204'; 3.5 → '3.5': counts and quantities, every digit kept."""
    value = _decimal(value)
    if value is None:
        return EMPTY
    places = max(0, -value.normalize().as_tuple().exponent)
    return _sign(value, places) + _grouped(value, places)


# --- credits and money --------------------------------------------------------------------

@register.filter
def credits_amount(micro):
    """Micro-credits → '1,253.22': two places, half up, for a cell under a "Credits" heading."""
    value = _credits_of(micro)
    return EMPTY if value is None else _sign(value, 2) + _grouped(value, 2)


@register.filter
def credits(micro):
    """Micro-credits → '1,253.22 credits'."""
    text = credits_amount(micro)
    return EMPTY if text == EMPTY else f"{text} credits"


@register.filter
def credits_signed(micro):
    """Micro-credits → '+1,253.22' or '−0.05': a movement in or out of the balance."""
    value = _credits_of(micro)
    return EMPTY if value is None else _sign(value, 2, plus=True) + _grouped(value, 2)


@register.filter
def credits_signed_exact(micro):
    """Micro-credits → '+500.000000' or '−8.004360': a movement to the micro-credit (the
    reconciliation statement, whose lines must visibly add up; the ledger page's rows)."""
    value = _credits_of(micro)
    return EMPTY if value is None else _sign(value, 6, plus=True) + _grouped(value, 6)


@register.filter
def credits_exact(micro):
    """Micro-credits → '0.052325 credits': every micro-credit, for receipts and the ledger."""
    value = _credits_of(micro)
    return EMPTY if value is None else f"{_sign(value, 6)}{_grouped(value, 6)} credits"


@register.filter
def usd(micro):
    """Micro-credits → 'USD 12.53' (1 credit = USD 0.01), to the cent, half up."""
    value = _credits_of(micro)
    if value is None:
        return EMPTY
    value = value * USD_PER_CREDIT
    return f"{_sign(value, 2)}USD {_grouped(value, 2)}"


@register.filter
def usd_exact(micro):
    """Micro-credits → 'USD 0.000523': below a cent, for a single request's receipt."""
    value = _credits_of(micro)
    if value is None:
        return EMPTY
    value = value * USD_PER_CREDIT
    return f"{_sign(value, 8)}USD {_grouped_trimmed(value, 8)}"


@register.filter
def cents(value):
    """Whole US cents → 'USD 12.53' (invoices, plans, payments)."""
    value = _decimal(value)
    if value is None:
        return EMPTY
    return f"{_sign(value, 0)}USD {_grouped(value / 100, 2)}"


# --- quantities ---------------------------------------------------------------------------

# The quantity keys of docs/api.md: counted things by their plural, durations by what lasted.
COUNTED = {
    "credits": ("credit", "credits"),  # an invoice line's quantity
    "months": ("month", "months"),
    "pages": ("page", "pages"),
    "images": ("image", "images"),
    "megapixels": ("megapixel", "megapixels"),
    "videos": ("video", "videos"),
    "requests": ("request", "requests"),
    "input_tokens": ("input token", "input tokens"),
    "output_tokens": ("output token", "output tokens"),
}
DURATIONS = {
    "audio_seconds": "audio",
    "video_seconds": "video",
    "generated_video_seconds": "generated video",
    "gpu_seconds": "GPU time",
    "inference_seconds": "inference",
}
# A price's unit (the singular of a quantity key) reads the same way.
UNIT_KEYS = {key[:-1]: key for key in [*COUNTED, *DURATIONS]}


def duration(seconds):
    """18420 → '5 h 7 min'; 95 → '1 min 35 s'; 4.5 → '4.5 s'.

    Below a minute every given digit counts; above it whole seconds, and above an hour whole
    minutes (rounded half up), which is as close as a person reads a duration.
    """
    if seconds < 60:
        return f"{number(seconds)} s"
    if seconds < 3600:
        whole = int(seconds.to_integral_value(rounding=ROUND_HALF_UP))
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    minutes_total = int((seconds / 60).to_integral_value(rounding=ROUND_HALF_UP))
    hours, minutes = divmod(minutes_total, 60)
    return f"{hours:,} h" + (f" {minutes} min" if minutes else "")


@register.filter
def quantity(amount, unit):
    """An amount with its unit in words: (1204, "pages") → '1,204 pages';
    (18420, "audio_seconds") → '5 h 7 min of audio'. Takes a quantity key of docs/api.md or
    a price's unit ("audio_second"); another unit is shown with its own name."""
    value = _decimal(amount)
    if value is None:
        return EMPTY
    key = UNIT_KEYS.get(unit, unit)
    if key in DURATIONS:
        return f"{_sign(value, 6)}{duration(abs(value))} of {DURATIONS[key]}"
    one, many = COUNTED.get(key, (str(unit).replace("_", " "),) * 2)
    return f"{number(value)} {one if value == 1 else many}"


@register.filter
def quantities(amounts):
    """{"pages": 1204, "audio_seconds": 18420} → '1,204 pages, 5 h 7 min of audio'."""
    if not amounts:
        return EMPTY
    return ", ".join(quantity(amount, unit) for unit, amount in amounts.items())


# --- dates and times ----------------------------------------------------------------------

# English month names whatever the process's locale (strftime's %b follows the locale).
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _utc(value):
    """A datetime in UTC (pages say UTC, whatever the server's zone)."""
    return value.astimezone(dt_timezone.utc) if value.tzinfo else value


@register.filter
def day(value):
    """A date, or the UTC date of a datetime → '28 Nov 2026'."""
    if isinstance(value, datetime):
        value = _utc(value).date()
    if not isinstance(value, date):
        return EMPTY
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


@register.filter
def moment(value):
    """A datetime → '28 Nov 2026, 16:14 UTC'."""
    if not isinstance(value, datetime):
        return EMPTY
    value = _utc(value)
    return f"{day(value)}, {value:%H:%M} UTC"


@register.filter
def period(start, end):
    """A billing period from its start to its exclusive end (the next period's start) →
    '1 Mar – 31 Mar 2026', or '15 Dec 2026 – 14 Jan 2027' across a year: the last day shown
    is the last whole day inside the period."""
    if not isinstance(start, datetime) or not isinstance(end, datetime):
        return EMPTY
    first, last = _utc(start).date(), (_utc(end) - timedelta(microseconds=1)).date()
    if first.year == last.year:
        return f"{first.day} {MONTHS[first.month - 1]} – {day(last)}"
    return f"{day(first)} – {day(last)}"
