"""The OpenAPI document covers every JSON route of docs/api.md; the app keeps to it
(schemathesis, with every check, against the document as served)."""

from urllib.parse import urlsplit

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.test import Client, RequestFactory
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from apikeys.services import key_create, service_token_create
from billing.ledger import ledger_post
from billing.models import EntryKind
from config.api import InvalidRequest, date_parse, read_json_object
from pricing.events import parse_event
from usage.openapi import openapi_document
from usage.reports import usage_query_params

pytestmark = pytest.mark.django_db

API_ROUTES = {
    ("post", "/api/v1/gateway/authorize"), ("post", "/api/v1/gateway/usage"),
    ("get", "/api/v1/balance"), ("get", "/api/v1/usage"), ("get", "/api/v1/usage/events/{id}"),
    ("get", "/api/v1/prices"),
    ("post", "/api/v1/prices/quote"), ("get", "/healthz"), ("get", "/api/v1/ping"),
    ("get", "/api/v1/openapi.json"),
}

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


def test_the_document_is_served_and_lists_every_json_route_of_the_contract(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    routes = {(method, path) for path, methods in document["paths"].items() for method in methods}
    assert routes == API_ROUTES
    usage = document["paths"]["/api/v1/gateway/usage"]["post"]["responses"]
    assert set(usage) == {"200", "400", "401", "404", "409", "413", "503"}
    assert "idempotency_conflict" in usage["409"]["description"]


def test_the_docs_page_renders_every_route_without_scripts(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    for method, path in API_ROUTES:
        assert f"{method.upper()}</span> <code>{path}</code>" in html
    assert "unknown_product" in html and "<code>QuoteEvent</code>" in html
    assert "cdn" not in html.lower()


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_an_undeclared_method_on_healthz_is_405_naming_get(method):
    client = Client(enforce_csrf_checks=True)  # as a real caller meets it (not the CSRF 403)
    response = getattr(client, method)("/healthz")
    assert response.status_code == 405
    assert response["Allow"] == "GET"


@pytest.fixture
def keep_test_connection():
    """Like Django's test Client: a WSGI request must not close the test's DB connection."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def credentials(workspace, owner, keep_test_connection):
    ledger_post(workspace=workspace, kind=EntryKind.PURCHASE, amount_micro=10_000 * 1_000_000,
                reference="openapi-test-credits")
    _key, secret = key_create(workspace=workspace, user=owner, name="schemathesis")
    _token, token = service_token_create(name="schemathesis")
    return {"customerKey": secret, "serviceToken": token}


def _validator_refuses(case, response):
    """The InvalidRequest the request's own validator raises for it, or None: the body through
    read_json_object and parse_event, the usage report's query through usage_query_params."""
    sent = response.request
    query = urlsplit(sent.url).query
    request = RequestFactory().generic(sent.method, f"/?{query}", data=sent.body or b"",
                                       content_type="application/json")
    try:
        if case.operation.path == "/api/v1/prices/quote":
            parse_event(read_json_object(request), gateway=False)
        else:
            usage_query_params(request.GET)
    except InvalidRequest as error:
        return error
    return None


def document_and_validator_agree(ctx, response, case):
    """positive_data_acceptance for the two routes with rules JSON Schema cannot state, which
    the document says in words: a quote's product must be priced in the units sent (the price
    catalog, which staff change at run time), and a usage range must have start <= end and at
    most 400 days (two parameters). A schema-valid request may get a 400 for those alone:
    everything the schema does say, the validator must accept."""
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code != 400:
        return None
    error = _validator_refuses(case, response)
    if error is None:
        return None  # the validator accepted it: the 400 is the catalog's
    if case.operation.path == "/api/v1/usage" and error.param == "start":
        date_parse(case.query["start"], "start")  # a good date: the 400 is the range rule
        return None
    raise AssertionError(f"The document accepts what the validator refuses: {error.message} ({error.param})")


RULES_IN_WORDS = {"/api/v1/prices/quote", "/api/v1/usage"}


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_to_its_document(case, credentials, settings):
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    security = case.operation.definition.raw.get("security") or []
    headers = {}
    if security:
        scheme = next(iter(security[0]))
        headers["Authorization"] = f"Bearer {credentials[scheme]}"
    if case.operation.path in RULES_IN_WORDS:
        case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance],
                               additional_checks=[document_and_validator_agree])
    else:
        case.call_and_validate(headers=headers)  # every check, as the CLI's `-c all`


def test_the_document_says_the_rate_limit_headers_are_epoch_seconds_on_200_and_429():
    responses = openapi_document()["paths"]["/api/v1/gateway/authorize"]["post"]["responses"]
    for status in ("200", "429"):
        headers = responses[status]["headers"]
        assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(headers)
        assert "Unix time in whole seconds" in headers["X-RateLimit-Reset"]["description"]
        assert "no limit sends none" in headers["X-RateLimit-Limit"]["description"]
    assert "Retry-After" in responses["429"]["headers"]
