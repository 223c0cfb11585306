"""A usage event as docs/api.md defines it: parsed, validated, and in one canonical form.

parse_event() is the only way an event gets in (the gateway's usage call, the quote route,
the pricing page's estimator), so every rule of the body lives here: unknown fields, whole
units, limits, NaN. Quantities become exact Decimals (read_json_object already hands JSON
numbers over as Decimals), never floats. pricing.event_schema writes the same rules as the
JSON Schemas of the API document, from the constants and patterns below. What a quantity costs is pricing.quote's business.
"""

import functools
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from config.api import InvalidRequest, reject_unknown_fields, text_check, timestamp_parse

TIERS = ("lo", "auto", "hi")
DEFAULT_TIER = "auto"
INSTANCES = ("micro", "xs", "sm", "md", "lg", "xl", "xxl", "super")

# Units counted in whole things; the others (durations, megapixels) may be fractional.
WHOLE_UNITS = ("pages", "images", "videos", "requests", "input_tokens", "output_tokens")
FRACTIONAL_UNITS = (
    "megapixels", "audio_seconds", "video_seconds", "generated_video_seconds",
    "gpu_seconds", "inference_seconds",
)
UNITS = WHOLE_UNITS + FRACTIONAL_UNITS
QUALIFIERS = {"gpu_seconds": "machine", "inference_seconds": "instance"}

# Far above any real request (a billion tokens, 31 years of seconds), low enough that no
# product of quantity and price can overflow a 64-bit micro-credit amount.
MAX_QUANTITY = Decimal(1_000_000_000)  # (also spelt out in the patterns below)
MAX_PLACES = 9  # a nanosecond of GPU time is as fine as anyone meters
MAX_LINES = 100
MAX_METADATA = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
MAX_ID = 200
MAX_PRODUCT = 120
MAX_MACHINE = 40
STATUS_CODES = (100, 599)

# The text rules, written once as patterns that mean the same to Python's `re` and to the
# ECMA-262 regular expressions of JSON Schema (pricing.event_schema puts them in the API
# document), so the document and this validator accept exactly the same strings.
BLANK = " \t\n\r\f\v"  # stripped around ids; nothing else counts as blank
_BLANK_CLASS = r"\t\n\r\f\v "
# Some non-blank character and no NUL (a lone surrogate is refused too: JSON Schema has no
# pattern for it; config.api.text_check).
TEXT_PATTERN = rf"^[^\x00]*[^\x00{_BLANK_CLASS}][^\x00]*$"
# Printable ASCII without space or `*` (which is the catalog's wildcard).
PRODUCT_PATTERN = rf"^[!-)+-~]{{1,{MAX_PRODUCT}}}$"
# Decimal text: no sign, exponent, spaces or leading zeros; at most MAX_PLACES places;
# at most MAX_QUANTITY (1,000,000,000). Whole units allow only zeros after the point ("2.0").
_UNDER_MAX = r"(?:0|[1-9][0-9]{0,8})"
WHOLE_TEXT_PATTERN = rf"^(?:{_UNDER_MAX}|1000000000)(?:\.0{{1,{MAX_PLACES}}})?$"
FRACTION_TEXT_PATTERN = rf"^(?:{_UNDER_MAX}(?:\.[0-9]{{1,{MAX_PLACES}}})?|1000000000(?:\.0{{1,{MAX_PLACES}}})?)$"

EVENT_FIELDS = (
    "id", "key_id", "product", "tier", "grounding", "quantity", "status_code",
    "queue_seconds", "occurred_at", "lines", "metadata",
)
LINE_FIELDS = ("product", "tier", "grounding", "quantity")


@dataclass(frozen=True)
class Line:
    """One part of a workflow (or the event itself): what was produced, and how much."""

    product: str
    tier: str = DEFAULT_TIER
    tier_given: bool = False
    grounding: bool = False
    quantity: dict = field(default_factory=dict)  # unit -> Decimal, exact
    machine: str | None = None
    instance: str | None = None


@dataclass(frozen=True)
class Event:
    product: str
    line: Line | None  # the event's own quantity; None for a workflow that only has lines
    lines: tuple = ()
    id: str | None = None
    key_id: str | None = None
    status_code: int = 200
    queue_seconds: Decimal = Decimal(0)
    occurred_at: datetime | None = None  # None: the caller uses "now"
    metadata: dict = field(default_factory=dict)

    @property
    def parts(self):
        """Every priced part: the event's own quantity first, then each workflow line."""
        return ((self.line,) if self.line is not None else ()) + tuple(self.lines)

    @property
    def tier(self):
        return self.line.tier if self.line else DEFAULT_TIER

    @property
    def grounding(self):
        return self.line.grounding if self.line else False


def parse_event(data, *, gateway):
    """The validated Event of a JSON object; InvalidRequest naming the field otherwise.

    gateway=True (the usage call) requires `id` and `key_id`; gateway=False (a quote, the
    estimator) refuses them, as docs/api.md's quote body is "a usage event without id/key_id".
    """
    if not isinstance(data, dict):
        raise InvalidRequest("An event must be a JSON object.")
    allowed = EVENT_FIELDS if gateway else tuple(f for f in EVENT_FIELDS if f not in ("id", "key_id"))
    reject_unknown_fields(data, allowed)

    event_id = key_id = None
    if gateway:
        event_id = _string(data, "id", max_length=MAX_ID, required=True)
        key_id = _string(data, "key_id", max_length=MAX_ID, required=True)

    lines = ()
    if data.get("lines") is not None:
        raw = data["lines"]
        if not isinstance(raw, list) or not raw:
            raise InvalidRequest("lines must be a non-empty list of workflow parts.", param="lines")
        if len(raw) > MAX_LINES:
            raise InvalidRequest(f"A workflow has at most {MAX_LINES} lines.", param="lines")
        lines = tuple(_line(item, prefix=f"lines[{i}].") for i, item in enumerate(raw))

    product = _product(data.get("product"), "product")
    own = None
    has_quantity = data.get("quantity") is not None
    if has_quantity or not lines:
        # A workflow names itself in `product` and may have no quantity of its own.
        own = _line({k: data[k] for k in LINE_FIELDS if k in data}, prefix="")
    elif "tier" in data or "grounding" in data:
        _tier(data.get("tier"), "tier")
        _bool(data.get("grounding"), "grounding")

    return Event(
        id=event_id,
        key_id=key_id,
        product=product,
        line=own,
        lines=lines,
        status_code=_status_code(data.get("status_code")),
        queue_seconds=(
            _decimal(data["queue_seconds"], "queue_seconds", whole=False)
            if data.get("queue_seconds") is not None else Decimal(0)
        ),
        occurred_at=_timestamp(data.get("occurred_at"), "occurred_at"),
        metadata=_metadata(data.get("metadata")),
    )


def event_canonical(event, as_dict=None):
    """A string equal for two bodies that mean the same event (docs/api.md: compared after parsing).

    Key order, `2` vs "2.0", an omitted tier vs "auto" and an omitted grounding vs false all
    compare equal; the usage call stores this to tell a replay from a conflicting body.
    `as_dict` is event_as_dict(event) when the caller has it already.
    """
    return json.dumps(as_dict or event_as_dict(event), sort_keys=True, separators=(",", ":"))


def event_as_dict(event):
    """A JSON-able dict of the parsed event (decimals as normalized strings)."""
    return {
        "id": event.id,
        "key_id": event.key_id,
        "product": event.product,
        "line": _line_as_dict(event.line) if event.line else None,
        "lines": [_line_as_dict(line) for line in event.lines],
        "status_code": event.status_code,
        "queue_seconds": decimal_text(event.queue_seconds),
        "occurred_at": event.occurred_at.isoformat() if event.occurred_at else None,
        "metadata": dict(sorted(event.metadata.items())),
    }


@functools.lru_cache(maxsize=4096)
def decimal_text(value):
    """'2', '0.5', '600': a Decimal without exponent or trailing zeros.

    Remembered: the same few quantities and prices recur in every event (equal Decimals,
    such as 1 and 1.0, have the same text, so sharing an entry is right)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _line_as_dict(line):
    quantity = {unit: decimal_text(v) for unit, v in sorted(line.quantity.items())}
    if line.machine is not None:
        quantity["machine"] = line.machine
    if line.instance is not None:
        quantity["instance"] = line.instance
    return {"product": line.product, "tier": line.tier, "grounding": line.grounding, "quantity": quantity}


def _line(data, *, prefix):
    if not isinstance(data, dict):
        raise InvalidRequest("Each workflow line must be a JSON object.", param=prefix.rstrip(".") or None)
    if prefix:
        reject_unknown_fields(data, LINE_FIELDS, prefix=prefix)
    product = _product(data.get("product"), f"{prefix}product")
    tier_given = data.get("tier") is not None
    tier = _tier(data.get("tier"), f"{prefix}tier")
    grounding = _bool(data.get("grounding"), f"{prefix}grounding")
    quantity, machine, instance = _quantity(data.get("quantity"), f"{prefix}quantity")
    return Line(
        product=product, tier=tier, tier_given=tier_given, grounding=grounding,
        quantity=quantity, machine=machine, instance=instance,
    )


def _quantity(data, param):
    if data is None:
        raise InvalidRequest(f"{param} is required, e.g. {{\"pages\": 1}}.", param=param)
    if not isinstance(data, dict):
        raise InvalidRequest(f"{param} must be an object of units, e.g. {{\"pages\": 1}}.", param=param)
    quantities = {}
    for name, value in data.items():
        if name in QUALIFIERS.values():
            continue
        if name not in UNITS:
            text_check(name, param)
            raise InvalidRequest(
                f"Unknown unit {name!r}; use one of {', '.join(UNITS)}.", param=f"{param}.{name}"
            )
        quantities[name] = _decimal(value, f"{param}.{name}", whole=name in WHOLE_UNITS)
    if not quantities:
        raise InvalidRequest(f"{param} names no unit, e.g. {{\"pages\": 1}}.", param=param)

    machine = instance = None
    if "gpu_seconds" in quantities:
        machine = _string(data, "machine", max_length=MAX_MACHINE, required=True, prefix=f"{param}.",
                          why="gpu_seconds are billed by machine type (a GPU type)")
        machine = machine.lower()
    elif "machine" in data:
        raise InvalidRequest("machine goes with gpu_seconds only.", param=f"{param}.machine")
    if "inference_seconds" in quantities:
        instance = data.get("instance")
        if instance is None:
            raise InvalidRequest(
                f"{param}.instance is required: inference_seconds are billed by instance size.",
                param=f"{param}.instance",
            )
        if instance not in INSTANCES:  # exactly as listed, as the document's enum says
            raise InvalidRequest(
                f"{param}.instance must be one of {', '.join(INSTANCES)}.", param=f"{param}.instance"
            )
    elif "instance" in data:
        raise InvalidRequest("instance goes with inference_seconds only.", param=f"{param}.instance")
    return quantities, machine, instance


def _decimal(value, param, *, whole):
    """An exact, finite, non-negative Decimal within limits; the field named otherwise.

    A JSON number arrives as an int or (read_json_object) an exact Decimal of its digits; a
    string must be plain decimal text (WHOLE_TEXT_PATTERN / FRACTION_TEXT_PATTERN)."""
    if isinstance(value, str):
        if not (_WHOLE_TEXT if whole else _FRACTION_TEXT).fullmatch(value):
            raise InvalidRequest(
                f"{param} must be a {'whole ' if whole else ''}number from 0 to {MAX_QUANTITY:,}"
                f"{'' if whole else f' with at most {MAX_PLACES} decimal places'}, or its plain "
                "decimal text (e.g. \"2\" or \"0.5\").",
                param=param,
            )
        return Decimal(value)
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        # A float only arrives from a caller that skipped read_json_object; refuse it rather
        # than guess which decimal it stood for.
        raise InvalidRequest(f"{param} must be a number or a decimal string.", param=param)
    if isinstance(value, int) and abs(value) > MAX_QUANTITY * 1000:
        raise InvalidRequest(f"{param} is too large (at most {MAX_QUANTITY:,}).", param=param)
    number = Decimal(value)
    if not number.is_finite():
        raise InvalidRequest(f"{param} must be a finite number.", param=param)
    if number < 0:
        raise InvalidRequest(f"{param} cannot be negative.", param=param)
    if number > MAX_QUANTITY:
        raise InvalidRequest(f"{param} is too large (at most {MAX_QUANTITY:,}).", param=param)
    if whole and number != number.to_integral_value():
        raise InvalidRequest(f"{param} must be a whole number.", param=param)
    if number.normalize().as_tuple().exponent < -MAX_PLACES:
        raise InvalidRequest(f"{param} has more than {MAX_PLACES} decimal places.", param=param)
    return number if number else Decimal(0)  # -0 is 0


_WHOLE_TEXT = re.compile(WHOLE_TEXT_PATTERN)
_FRACTION_TEXT = re.compile(FRACTION_TEXT_PATTERN)
_PRODUCT = re.compile(PRODUCT_PATTERN)


def _string(data, name, *, max_length, required, prefix="", why=None):
    param = f"{prefix}{name}"
    value = data.get(name)
    if value is None:
        if required:
            raise InvalidRequest(f"{param} is required" + (f": {why}." if why else "."), param=param)
        return None
    # TEXT_PATTERN, checked the quick way: something left after stripping blanks, no NUL.
    stripped = value.strip(BLANK) if isinstance(value, str) else ""
    if not stripped:
        raise InvalidRequest(f"{param} must be a non-empty string.", param=param)
    text_check(value, param)
    if len(value) > max_length:
        raise InvalidRequest(f"{param} is longer than {max_length} characters.", param=param)
    return stripped


def _product(value, param):
    if value is None:
        raise InvalidRequest(f"{param} is required, e.g. \"document.invoice\".", param=param)
    if not isinstance(value, str) or not _PRODUCT.fullmatch(value):
        raise InvalidRequest(
            f"{param} must be a product id like \"document.invoice\": 1 to {MAX_PRODUCT} printable "
            "ASCII characters, no spaces or *.", param=param,
        )
    return value


def _tier(value, param):
    if value is None:
        return DEFAULT_TIER
    if value not in TIERS:
        raise InvalidRequest(f"{param} must be one of lo, auto, hi.", param=param)
    return value


def _bool(value, param):
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidRequest(f"{param} must be true or false.", param=param)
    return value


def _status_code(value):
    if value is None:
        return 200
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        value = int(value)  # 200.0 is the integer JSON Schema says it is
    low, high = STATUS_CODES
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidRequest(f"status_code must be an HTTP status code ({low}-{high}).", param="status_code")
    return value


def _timestamp(value, param):
    return None if value is None else timestamp_parse(value, param)


def _metadata(value):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest("metadata must be an object of string pairs.", param="metadata")
    if len(value) > MAX_METADATA:
        raise InvalidRequest(f"metadata has at most {MAX_METADATA} pairs.", param="metadata")
    for name, item in value.items():
        text_check(name, "metadata")
        if not name or len(name) > MAX_METADATA_KEY:
            raise InvalidRequest(
                f"metadata keys are 1 to {MAX_METADATA_KEY} characters.", param=f"metadata.{name}"
            )
        if not isinstance(item, str):
            raise InvalidRequest("metadata values must be strings.", param=f"metadata.{name}")
        text_check(item, f"metadata.{name}")
        if len(item) > MAX_METADATA_VALUE:
            raise InvalidRequest(
                f"metadata values are at most {MAX_METADATA_VALUE} characters.", param=f"metadata.{name}"
            )
    return dict(value)
