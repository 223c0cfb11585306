"""parse_event: every bad body is a 400 naming the field; good ones become exact Decimals."""

import json
from decimal import Decimal

import pytest
from django.test import RequestFactory

from config.api import InvalidRequest, read_json_object
from pricing.events import MAX_QUANTITY, event_canonical, parse_event

GOOD = {"id": "req_1", "key_id": "key_1", "product": "document.invoice", "quantity": {"pages": 3}}


def parsed_from_json(text):
    request = RequestFactory().post("/", data=text, content_type="application/json")
    return parse_event(read_json_object(request), gateway=True)


def refused(body, *, gateway=True):
    with pytest.raises(InvalidRequest) as caught:
        parse_event(body, gateway=gateway)
    return caught.value.param


def test_a_good_event_has_exact_decimal_quantities_and_defaults():
    event = parse_event(GOOD, gateway=True)
    assert event.line.quantity == {"pages": Decimal(3)}
    assert (event.tier, event.grounding, event.status_code) == ("auto", False, 200)
    assert event.occurred_at is None and event.metadata == {}


def test_json_floats_arrive_as_exact_decimals_never_floats():
    event = parsed_from_json('{"id": "r", "key_id": "k", "product": "llm.x", "queue_seconds": 0.1,'
                             ' "quantity": {"inference_seconds": 0.1, "instance": "micro"}}')
    assert event.line.quantity["inference_seconds"] == Decimal("0.1")
    assert event.queue_seconds == Decimal("0.1")


@pytest.mark.parametrize(
    "change, param",
    [
        ({"quantity": {"pages": -1}}, "quantity.pages"),
        ({"quantity": {"pages": "NaN"}}, "quantity.pages"),
        ({"quantity": {"pages": "Infinity"}}, "quantity.pages"),
        ({"quantity": {"pages": "1e400"}}, "quantity.pages"),
        ({"quantity": {"pages": str(MAX_QUANTITY + 1)}}, "quantity.pages"),
        ({"quantity": {"pages": 10**30}}, "quantity.pages"),
        ({"quantity": {"pages": "1.5"}}, "quantity.pages"),
        ({"quantity": {"images": "0.5"}}, "quantity.images"),
        ({"quantity": {"input_tokens": "2.5"}}, "quantity.input_tokens"),
        ({"quantity": {"pages": True}}, "quantity.pages"),
        ({"quantity": {"pages": "three"}}, "quantity.pages"),
        ({"quantity": {"pages": 1.5}}, "quantity.pages"),  # a float that skipped read_json_object
        ({"quantity": {"furlongs": 1}}, "quantity.furlongs"),
        ({"quantity": {}}, "quantity"),
        ({"quantity": "3 pages"}, "quantity"),
        ({"quantity": {"gpu_seconds": 5}}, "quantity.machine"),
        ({"quantity": {"inference_seconds": 5}}, "quantity.instance"),
        ({"quantity": {"inference_seconds": 5, "instance": "huge"}}, "quantity.instance"),
        ({"quantity": {"pages": 1, "instance": "micro"}}, "quantity.instance"),
        ({"quantity": {"audio_seconds": "0.0000000001"}}, "quantity.audio_seconds"),
        ({"tier": "max"}, "tier"),
        ({"grounding": "yes"}, "grounding"),
        ({"status_code": 999}, "status_code"),
        ({"status_code": "200"}, "status_code"),
        ({"queue_seconds": -1}, "queue_seconds"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": "2026-11-23T09:00:00"}, "occurred_at"),  # no zone
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        ({"metadata": {"user": 42}}, "metadata.user"),
        ({"product": "document.*"}, "product"),
        ({"product": ""}, "product"),
        ({"colour": "red"}, "colour"),
        ({"lines": []}, "lines"),
        ({"lines": [{"product": "a.b", "quantity": {"pages": 1}, "price": 0}]}, "lines[0].price"),
        ({"lines": [{"product": "a.b", "quantity": {"pages": -2}}]}, "lines[0].quantity.pages"),
        ({"lines": [{"product": "a.b", "quantity": {"pages": 1}}] * 101}, "lines"),
    ],
)
def test_bad_input_is_refused_naming_the_field(change, param):
    assert refused({**GOOD, **change}) == param


def test_the_gateway_must_send_id_and_key_id_and_a_quote_must_not():
    assert refused({k: v for k, v in GOOD.items() if k != "id"}) == "id"
    assert refused({k: v for k, v in GOOD.items() if k != "key_id"}) == "key_id"
    assert refused(GOOD, gateway=False) == "id"


def test_a_workflow_may_have_lines_without_a_quantity_of_its_own():
    event = parse_event({"id": "r", "key_id": "k", "product": "workflow.x", "lines": [
        {"product": "document.a", "quantity": {"pages": 1}},
        {"product": "audio.b", "tier": "hi", "quantity": {"audio_seconds": "61.5"}},
    ]}, gateway=True)
    assert event.line is None
    assert [line.product for line in event.parts] == ["document.a", "audio.b"]


def test_durations_and_megapixels_may_be_fractional():
    event = parse_event({**GOOD, "quantity": {"megapixels": "1.25", "video_seconds": 0}}, gateway=True)
    assert event.line.quantity == {"megapixels": Decimal("1.25"), "video_seconds": Decimal(0)}


def test_the_canonical_form_ignores_key_order_number_spelling_and_defaults():
    a = parsed_from_json('{"id":"r","key_id":"k","product":"document.x","quantity":{"pages":2}}')
    b = parsed_from_json('{"quantity":{"pages":"2.0"},"tier":"auto","grounding":false,'
                         '"product":"document.x","key_id":"k","id":"r","status_code":200}')
    c = parsed_from_json('{"id":"r","key_id":"k","product":"document.x","quantity":{"pages":3}}')
    assert event_canonical(a) == event_canonical(b)
    assert event_canonical(a) != event_canonical(c)
    assert json.loads(event_canonical(a))["line"]["quantity"] == {"pages": "2"}


def test_occurred_at_is_kept_in_utc():
    event = parse_event({**GOOD, "occurred_at": "2026-11-23T10:00:00+01:00"}, gateway=True)
    assert event.occurred_at.isoformat() == "2026-11-23T09:00:00+00:00"
