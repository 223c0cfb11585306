"""One source for an event's shape: the API document's schemas and parse_event agree.

The schemas are written from parse_event's constants and patterns (pricing.event_schema);
here a JSON Schema validator (ECMA regular expressions, as any client would use) and
parse_event judge the same bodies, valid and invalid, and must give the same verdict.
"""

import json
from decimal import Decimal

import jsonschema_rs
import pytest
from django.test import RequestFactory
from hypothesis import HealthCheck, event, given, settings, strategies as st

from config.api import InvalidRequest, read_json_object
from pricing.events import INSTANCES, MAX_LINES, MAX_METADATA, MAX_PLACES, MAX_QUANTITY, parse_event
from usage.openapi import openapi_document

DOCUMENT = openapi_document()


def validator(name):
    return jsonschema_rs.validator_for(
        {"$ref": f"#/components/schemas/{name}", "components": DOCUMENT["components"]}, validate_formats=True
    )


QUOTE, USAGE = validator("QuoteEvent"), validator("UsageEvent")


def parse_accepts(text, *, gateway):
    request = RequestFactory().post("/", data=text, content_type="application/json")
    try:
        parse_event(read_json_object(request), gateway=gateway)
    except InvalidRequest:
        return False
    return True


# Near-misses of every rule, mixed with good values. (Not lone surrogates or times beyond year
# 9999 in UTC: JSON Schema cannot say those, and the descriptions say parse_event refuses them.)
TEXTS = st.one_of(
    st.sampled_from(["", " ", "a", " a ", "a b", "a*", "\x00", "é", "document.invoice", "x" * 121,
                     "MICRO", "micro", "lo", "auto", "hi", "HI", "a100-80gb", "\t", "z" * 201]),
    st.text(max_size=6),
)
QUANTITY_VALUES = st.one_of(
    st.sampled_from(["2", "2.0", "02", "1e2", "-0", " 5", "0.5", "0.0000000001", "1000000000",
                     "1000000000.5", "1000000001", "1.", ".5", "NaN", "0.123456789"]),
    st.integers(-2, 10) | st.sampled_from([MAX_QUANTITY, MAX_QUANTITY + 1]).map(int),
    st.decimals(0, 10, places=MAX_PLACES + 1).map(float),
    st.sampled_from([0.5, 1.0, 1e-05, 1e-10, 2.5e-09, 1e9, 1e9 + 0.5, True, None]),
)
TIMES = st.sampled_from(["2026-11-23T09:00:00Z", "2026-11-23T09:00:00.5+01:00", "2026-11-23t09:00:00z",
                         "2026-11-23T09:00Z", "2026-11-23 09:00:00Z", "2026-11-23T09:00:00",
                         "2026-02-30T00:00:00Z", "yesterday", ""])
UNITS = st.sampled_from(["pages", "images", "audio_seconds", "megapixels", "gpu_seconds",
                         "inference_seconds", "machine", "instance", "furlongs"])
QUANTITIES = st.one_of(
    st.dictionaries(UNITS, st.one_of(QUANTITY_VALUES, TEXTS, st.sampled_from(list(INSTANCES))), max_size=3),
    st.sampled_from([None, [], "3 pages"]),
)
LINES = st.lists(st.fixed_dictionaries(
    {}, optional={"product": TEXTS, "quantity": QUANTITIES, "tier": TEXTS, "grounding": st.sampled_from([True, None, 1]),
                  "price": st.just(0)}), min_size=0, max_size=3)
GOOD = {  # a good value of each field
    "id": st.sampled_from(["req_1", " req_2 ", "é" * 200]), "key_id": st.just("key_1"),
    "product": st.sampled_from(["document.invoice", "x.y", "~!" * 60]),
    "quantity": st.sampled_from([{"pages": 2}, {"pages": "2.0"}, {"audio_seconds": 0.5},
                                 {"gpu_seconds": "1.5", "machine": "a100-80gb"},
                                 {"inference_seconds": 1e-05, "instance": "micro"}]),
    "tier": st.sampled_from(["lo", "auto", "hi", None]), "grounding": st.sampled_from([True, False, None]),
    "status_code": st.sampled_from([100, 200, 599, 200.0, None]),
    "queue_seconds": st.sampled_from(["0", "61.5", 1000000000, None]),
    "occurred_at": st.sampled_from(["2026-11-23T09:00:00Z", "2026-11-23T09:00:00.5+01:00", None]),
    "lines": st.sampled_from([None, [{"product": "a.b", "quantity": {"pages": 1}, "tier": "hi"}]]),
    "metadata": st.sampled_from([None, {}, {"k": "v"}, {"k" * 64: "v" * 512}]),
}
NEAR_MISS = {  # and a value beside it, good or not
    "id": TEXTS | st.just(None), "key_id": TEXTS, "product": TEXTS | st.just(None), "quantity": QUANTITIES,
    "tier": TEXTS, "grounding": st.sampled_from([1, "yes", "true"]),
    "status_code": st.sampled_from([600, 99, 200.5, "200", True]),
    "queue_seconds": QUANTITY_VALUES, "occurred_at": TIMES,
    "lines": LINES | st.just([{"product": "a", "quantity": {"pages": 1}}] * (MAX_LINES + 1)),
    "metadata": st.one_of(st.dictionaries(TEXTS, TEXTS | st.integers(), max_size=3),
                          st.just({f"k{i}": "v" for i in range(MAX_METADATA + 1)})),
    "colour": st.just("red"),
}


@st.composite
def events(draw):
    """A good event (some optional fields left out) with up to two fields swapped for a
    near miss: about as many good bodies as bad ones, and every rule exercised."""
    body = {name: draw(GOOD[name]) for name in ("id", "key_id", "product", "quantity")}
    for name in draw(st.lists(st.sampled_from(sorted(set(GOOD) - set(body))), unique=True)):
        body[name] = draw(GOOD[name])
    for name in draw(st.lists(st.sampled_from(sorted(NEAR_MISS)), max_size=2, unique=True)):
        body[name] = draw(NEAR_MISS[name])
    if draw(st.booleans()) and body.get("lines"):
        body.pop("quantity")
    return body


def _dumped(body):
    return json.dumps(body, default=lambda d: float(d) if isinstance(d, Decimal) else d)


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=events())
def test_the_document_and_parse_event_accept_the_same_events(body):
    text = _dumped(body)
    verdict = USAGE.is_valid(json.loads(text))
    event(f"valid {verdict}")
    assert verdict == parse_accepts(text, gateway=True), text
    quote = _dumped({k: v for k, v in body.items() if k not in ("id", "key_id")})
    assert QUOTE.is_valid(json.loads(quote)) == parse_accepts(quote, gateway=False), quote


@pytest.mark.parametrize("quantity, valid", [
    ({"gpu_seconds": 5}, False), ({"machine": "a100"}, False), ({"gpu_seconds": 5, "machine": "a100"}, True),
    ({"inference_seconds": 5}, False), ({"instance": "micro"}, False), ({"pages": 1, "instance": "micro"}, False),
])
def test_the_document_states_which_qualifier_goes_with_which_unit(quantity, valid):
    body = json.dumps({"product": "x.y", "quantity": quantity})
    assert QUOTE.is_valid(json.loads(body)) is valid
    assert parse_accepts(body, gateway=False) is valid


def test_the_document_takes_its_limits_from_the_validators_constants():
    event = DOCUMENT["components"]["schemas"]["QuoteEvent"]["properties"]
    assert event["lines"]["anyOf"][0]["maxItems"] == MAX_LINES
    assert event["metadata"]["anyOf"][0]["maxProperties"] == MAX_METADATA
    instance = DOCUMENT["components"]["schemas"]["Quantity"]["properties"]["instance"]
    assert instance["enum"] == list(INSTANCES)
    usage = DOCUMENT["paths"]["/api/v1/usage"]["get"]
    assert "start` must be on or before `end`" in usage["description"]


@pytest.mark.parametrize("value, whole_ok, fraction_ok", [
    ("2", True, True), ("2.0", True, True), ("61.5", False, True), ("0.123456789", False, True),
    ("1000000000", True, True), ("1e2", False, False), (" 5", False, False), ("02", False, False),
    ("-0", False, False), ("1.", False, False), (".5", False, False), ("0.0000000001", False, False),
    ("1000000000.5", False, False), ("5\n", False, False),
    (1e-05, False, True), (2.5, False, True), (100.0, True, True), (1e-10, False, False),
])
def test_a_quantity_is_plain_decimal_text_or_any_json_number_within_the_limits(value, whole_ok, fraction_ok):
    for unit, ok in (("pages", whole_ok), ("audio_seconds", fraction_ok)):
        body = json.dumps({"product": "x.y", "quantity": {unit: value}})
        assert parse_accepts(body, gateway=False) is ok, (unit, value)
        assert QUOTE.is_valid(json.loads(body)) is ok, (unit, value)
