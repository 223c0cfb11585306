"""The OpenAPI document covers every JSON route of docs/api.md; the app keeps to it (schemathesis)."""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apikeys.services import key_create, service_token_create
from billing.ledger import ledger_post
from billing.models import EntryKind
from usage.openapi import openapi_document

pytestmark = pytest.mark.django_db

API_ROUTES = {
    ("post", "/api/v1/gateway/authorize"), ("post", "/api/v1/gateway/usage"),
    ("get", "/api/v1/balance"), ("get", "/api/v1/usage"), ("get", "/api/v1/prices"),
    ("post", "/api/v1/prices/quote"), ("get", "/healthz"),
}

schema = schemathesis.openapi.from_dict(openapi_document())
schema.app = get_wsgi_application()


def test_the_document_is_served_and_lists_every_json_route_of_the_contract(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    routes = {(method, path) for path, methods in document["paths"].items() for method in methods}
    assert routes == API_ROUTES
    usage = document["paths"]["/api/v1/gateway/usage"]["post"]["responses"]
    assert set(usage) == {"200", "400", "401", "404", "409"}
    assert "idempotency_conflict" in usage["409"]["description"]


def test_the_docs_page_renders_every_route_without_scripts(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    for method, path in API_ROUTES:
        assert f"{method.upper()}</span> <code>{path}</code>" in html
    assert "unknown_product" in html and "<code>QuoteEvent</code>" in html
    assert "cdn" not in html.lower()


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


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_to_its_document(case, credentials, settings):
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    security = case.operation.definition.raw.get("security") or []
    headers = {}
    if security:
        scheme = next(iter(security[0]))
        headers["Authorization"] = f"Bearer {credentials[scheme]}"
    case.call_and_validate(
        headers=headers,
        checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                response_schema_conformance],
    )


def test_the_document_says_the_rate_limit_headers_are_epoch_seconds_on_200_and_429():
    responses = openapi_document()["paths"]["/api/v1/gateway/authorize"]["post"]["responses"]
    for status in ("200", "429"):
        headers = responses[status]["headers"]
        assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(headers)
        assert "Unix time in whole seconds" in headers["X-RateLimit-Reset"]["description"]
        assert "no limit sends none" in headers["X-RateLimit-Limit"]["description"]
    assert "Retry-After" in responses["429"]["headers"]
