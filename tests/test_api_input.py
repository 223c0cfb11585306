"""Bad input on every JSON route answers 400 (or 413) in the API's error shape, never 500.

The same answers on SQLite and PostgreSQL: a NUL that SQLite would store and PostgreSQL
refuses, or a lone surrogate no encoder can write, is refused before any query.
"""

import json

import pytest
from django.conf import settings as django_settings

from apikeys.services import key_create, service_token_create
from billing.ledger import ledger_sum
from tests.factories import give_credits

pytestmark = pytest.mark.django_db

AUTHORIZE = "/api/v1/gateway/authorize"
USAGE = "/api/v1/gateway/usage"
QUOTE = "/api/v1/prices/quote"
NUL, SURROGATE = "\u0000", "\ud800"


@pytest.fixture
def api(client, workspace, owner):
    """api(route, raw_text) -> response, with the credential the route takes."""
    give_credits(workspace, 1000)
    key, secret = key_create(workspace=workspace, user=owner, name="CI")
    token = service_token_create(name="gateway-test")[1]

    def post(route, raw):
        credential = secret if route == QUOTE else token
        return client.post(route, data=raw, content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {credential}")

    post.key, post.secret = key, secret
    return post


def good_event(api, **fields):
    body = {"id": "req_1", "key_id": api.key.public_id, "product": "document.invoice",
            "quantity": {"pages": 1}}
    body.update(fields)
    return body


def quote_body(event):
    return {k: v for k, v in event.items() if k not in ("id", "key_id")}


def assert_api_error(response, status, code, param=None):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code
    if param is not None:
        assert error["param"] == param
    return error


@pytest.mark.parametrize("route", [AUTHORIZE, USAGE, QUOTE])
def test_a_body_nested_a_thousand_deep_is_a_400(api, workspace, route):
    before = ledger_sum(workspace.pk)
    raw = '{"product": ' + "[" * 1000 + "]" * 1000 + "}"
    error = assert_api_error(api(route, raw), 400, "invalid_request")
    assert "nested" in error["message"]
    assert ledger_sum(workspace.pk) == before


def test_the_body_limit_is_five_mebibytes_from_the_one_setting():
    assert django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 5 * 1024 * 1024


@pytest.mark.parametrize("route", [AUTHORIZE, USAGE, QUOTE])
def test_a_body_over_five_megabytes_is_413_in_the_api_shape(api, route):
    padding = "x" * (5 * 1024 * 1024)
    error = assert_api_error(api(route, json.dumps({"metadata": {"a": padding}})), 413, "request_too_large")
    assert "5 MB" in error["message"]


def test_a_body_under_the_limit_is_read_and_judged_on_its_content(api):
    # 3 MB: above Django's default 2.5 MB, so not Django's HTML 400 page any more.
    big = good_event(api, metadata={"note": "x" * (3 * 1024 * 1024)})
    assert_api_error(api(USAGE, json.dumps(big)), 400, "invalid_request", "metadata.note")


def test_the_limit_follows_the_setting(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = json.dumps(good_event(api, metadata={"note": "x" * 2000}))
    error = assert_api_error(api(USAGE, body), 413, "request_too_large")
    assert "1 KB" in error["message"]


# Every text field of every route, each with a NUL and with a lone surrogate.
TEXT_CASES = [
    (USAGE, lambda api, bad: good_event(api, id=f"req{bad}"), "id"),
    (USAGE, lambda api, bad: good_event(api, key_id=api.key.public_id + bad), "key_id"),
    (USAGE, lambda api, bad: good_event(api, product=f"document.invoice{bad}"), "product"),
    (USAGE, lambda api, bad: good_event(api, metadata={f"k{bad}": "v"}), "metadata"),
    (USAGE, lambda api, bad: good_event(api, metadata={"k": f"v{bad}"}), "metadata.k"),
    (USAGE, lambda api, bad: good_event(
        api, product="gpu.job", quantity={"gpu_seconds": 1, "machine": f"a100{bad}"}), "quantity.machine"),
    (USAGE, lambda api, bad: good_event(
        api, product="workflow.x", quantity=None,
        lines=[{"product": f"document.invoice{bad}", "quantity": {"pages": 1}}]), "lines[0].product"),
    (USAGE, lambda api, bad: good_event(api, tier=f"hi{bad}"), "tier"),
    (QUOTE, lambda api, bad: quote_body(good_event(api, product=f"document.invoice{bad}")), "product"),
    (QUOTE, lambda api, bad: quote_body(good_event(api, metadata={"k": f"v{bad}"})), "metadata.k"),
    (AUTHORIZE, lambda api, bad: {"api_key": api.secret + bad}, "api_key"),
    (AUTHORIZE, lambda api, bad: {"api_key": bad + api.secret[1:]}, "api_key"),
]


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "lone-surrogate"])
@pytest.mark.parametrize("route, body, param", TEXT_CASES)
def test_a_nul_or_lone_surrogate_in_any_text_field_is_a_400_naming_it(api, workspace, route, body, param, bad):
    before = ledger_sum(workspace.pk)
    error = assert_api_error(api(route, json.dumps(body(api, bad))), 400, "invalid_request", param)
    assert error["message"]
    assert ledger_sum(workspace.pk) == before


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "lone-surrogate"])
def test_an_unknown_field_with_bad_text_is_still_a_400(api, bad):
    assert_api_error(api(AUTHORIZE, json.dumps({f"x{bad}": 1, "api_key": api.secret})), 400, "invalid_request")
    assert_api_error(api(USAGE, json.dumps(good_event(api, **{f"x{bad}": 1}))), 400, "invalid_request")


def test_raw_bytes_that_are_not_utf8_are_a_400(api):
    # The UTF-8 encoding of a lone surrogate, sent raw rather than as a \\u escape.
    raw = b'{"api_key": "\xed\xa0\x80"}'
    assert_api_error(api(AUTHORIZE, raw), 400, "invalid_request")


def test_emoji_and_other_valid_text_still_pass(api, workspace):
    body = good_event(api, id="req_\U0001f600", metadata={"note": "caf\u00e9 \U0001f600 \\u0000 literal"})
    response = api(USAGE, json.dumps(body))
    assert response.status_code == 200, response.content
    assert response.json()["id"] == "req_\U0001f600"


def test_a_batch_keeps_a_bad_events_text_error_in_its_slot(api, workspace):
    events = [good_event(api, id="req_ok"), good_event(api, id=f"req{NUL}"),
              good_event(api, id="req_meta", metadata={"k": SURROGATE})]
    response = api(USAGE, json.dumps({"events": events}))
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert results[0]["billed"] is True
    assert results[1]["error"]["param"] == "events[1].id"
    assert results[2]["error"]["param"] == "events[2].metadata.k"


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
@pytest.mark.parametrize("route", [USAGE, QUOTE])
def test_an_occurred_at_beyond_the_calendar_is_a_400(api, workspace, route, when):
    before = ledger_sum(workspace.pk)
    body = good_event(api, occurred_at=when)
    body = body if route == USAGE else quote_body(body)
    error = assert_api_error(api(route, json.dumps(body)), 400, "invalid_request", "occurred_at")
    assert "occurred_at" in error["message"]
    assert ledger_sum(workspace.pk) == before


@pytest.mark.parametrize("query, param", [
    ("start=2026-11-01%00", "start"), ("end=%ED%A0%80", "end"), ("group_by=day%00", "group_by"),
    ("start=0000-01-01", "start"),
    # Given is given: an empty or differently spelt date is refused, not the default range.
    ("start=", "start"), ("end=", "end"), ("start=20261101", "start"), ("start=2026-11-01%0A", "start"),
    ("group_by=", "group_by"),
])
def test_bad_text_in_usage_query_parameters_is_a_400(client, api, query, param):
    response = client.get(f"/api/v1/usage?{query}", HTTP_AUTHORIZATION=f"Bearer {api.secret}")
    assert_api_error(response, 400, "invalid_request", param)
