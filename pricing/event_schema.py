"""The JSON Schemas of a usage event, written from the rules pricing.events validates with.

Every name, limit and pattern comes from pricing.events' constants, so the API document
(usage.openapi) cannot drift from parse_event: a body the schema accepts, parse_event
accepts, and the other way round (tests/usage/test_openapi.py runs schemathesis with every
check to hold both to it). What a schema cannot say (a lone surrogate, a time beyond year
9999 once in UTC) is refused by parse_event as the descriptions say.
"""

from config.api import TIMESTAMP_PATTERN
from pricing.events import (
    FRACTION_TEXT_PATTERN,
    FRACTIONAL_UNITS,
    INSTANCES,
    LINE_FIELDS,
    MAX_ID,
    MAX_LINES,
    MAX_MACHINE,
    MAX_METADATA,
    MAX_METADATA_KEY,
    MAX_METADATA_VALUE,
    MAX_PLACES,
    MAX_QUANTITY,
    PRODUCT_PATTERN,
    QUALIFIERS,
    STATUS_CODES,
    TEXT_PATTERN,
    TIERS,
    WHOLE_TEXT_PATTERN,
    WHOLE_UNITS,
)

NULL = {"type": "null"}
_MAX = int(MAX_QUANTITY)
_STEP = 10 ** -MAX_PLACES  # the finest decimal place a quantity may have


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _or_null(schema, description=None):
    """An optional field: parse_event reads null as "not given"."""
    nullable = {"anyOf": [schema, NULL]}
    if description:
        nullable["description"] = description
    return nullable


def _text(max_length, description=None):
    schema = {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": TEXT_PATTERN}
    if description:
        schema["description"] = description
    return schema


WHOLE = {
    "description": f"A whole number from 0 to {_MAX:,}, or its plain decimal text (\"2\", \"2.0\").",
    "oneOf": [
        {"type": "integer", "minimum": 0, "maximum": _MAX},
        {"type": "string", "pattern": WHOLE_TEXT_PATTERN},
    ],
}
FRACTION = {
    "description": f"A number from 0 to {_MAX:,} with at most {MAX_PLACES} decimal places, or its "
                   "plain decimal text (\"61.5\"); never rounded.",
    "oneOf": [
        {"type": "number", "minimum": 0, "maximum": _MAX, "multipleOf": _STEP},
        {"type": "string", "pattern": FRACTION_TEXT_PATTERN},
    ],
}
PRODUCT = {"type": "string", "pattern": PRODUCT_PATTERN, "examples": ["document.invoice"],
           "description": "A product id: printable ASCII, no spaces or `*`."}

QUALIFIER_SCHEMAS = {
    "machine": _text(MAX_MACHINE, "The GPU type gpu_seconds are billed by, e.g. a100-80gb."),
    "instance": {"type": "string", "enum": list(INSTANCES),
                 "description": "The instance size inference_seconds are billed by."},
}


def quantity_schema():
    units = {unit: WHOLE for unit in WHOLE_UNITS} | {unit: FRACTION for unit in FRACTIONAL_UNITS}
    # Each qualifier goes with its unit, both ways: gpu_seconds needs machine and machine
    # needs gpu_seconds (so does an object of qualifiers alone fail).
    dependent = {}
    for unit, qualifier in QUALIFIERS.items():
        dependent[unit] = [qualifier]
        dependent[qualifier] = [unit]
    return {
        "type": "object",
        "description": "Units used. `machine` goes with `gpu_seconds` and `instance` with "
                       "`inference_seconds`, each only with the other.",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": units | QUALIFIER_SCHEMAS,
        "dependentRequired": dependent,
        "examples": [{"pages": 3}, {"inference_seconds": 600, "instance": "micro"}],
    }


def _part_properties():
    return {
        "product": PRODUCT,
        "tier": _or_null({"type": "string", "enum": list(TIERS)}, "Default auto."),
        "grounding": _or_null({"type": "boolean"}, "Default false."),
        "quantity": _ref("Quantity"),
    }


def line_schema():
    properties = _part_properties()
    assert set(properties) == set(LINE_FIELDS)
    return {"type": "object", "additionalProperties": False, "required": ["product", "quantity"],
            "properties": properties}


def quote_event_schema():
    low, high = STATUS_CODES
    properties = _part_properties() | {
        "quantity": _or_null(_ref("Quantity"), "The event's own quantity; a workflow with "
                                               "`lines` may leave it out."),
        "status_code": _or_null({"type": "integer", "minimum": low, "maximum": high},
                                "The inference response's status; only 2xx is billed. Default 200."),
        "queue_seconds": _or_null(FRACTION, "Recorded, never billed."),
        "occurred_at": _or_null({"type": "string", "format": "date-time", "pattern": TIMESTAMP_PATTERN},
                                "With a zone, within years 1 to 9999 once in UTC. Default now."),
        "lines": _or_null({"type": "array", "minItems": 1, "maxItems": MAX_LINES, "items": _ref("Line")},
                          "A workflow: the charge is the sum of its lines."),
        "metadata": _or_null({
            "type": "object", "maxProperties": MAX_METADATA,
            "propertyNames": {"minLength": 1, "maxLength": MAX_METADATA_KEY, "pattern": "^[^\\x00]*$"},
            "additionalProperties": {"type": "string", "maxLength": MAX_METADATA_VALUE,
                                     "pattern": "^[^\\x00]*$"},
        }),
    }
    return {
        "type": "object", "additionalProperties": False, "required": ["product"],
        "properties": properties,
        # A quantity of its own, or workflow lines (or both).
        "anyOf": [
            {"required": ["quantity"], "properties": {"quantity": {"type": "object"}}},
            {"required": ["lines"], "properties": {"lines": {"type": "array"}}},
        ],
    }


def usage_event_schema():
    quote = quote_event_schema()
    return quote | {
        "required": ["id", "key_id", "product"],
        "properties": {
            "id": _text(MAX_ID, "The idempotency key (spaces around it are dropped)."),
            "key_id": _text(MAX_ID, "The key_id authorize answered."),
            **quote["properties"],
        },
    }


def event_schemas():
    """{name: schema} of the document's components for an event."""
    return {
        "Quantity": quantity_schema(),
        "Line": line_schema(),
        "QuoteEvent": quote_event_schema(),
        "UsageEvent": usage_event_schema(),
    }
