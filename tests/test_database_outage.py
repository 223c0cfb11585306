"""PostgreSQL unreachable: every JSON route answers 503 service_unavailable with Retry-After
(the gateway's cue to retry), and pages show the 503 page, never a bare 500.

The database is really unreachable: the default connection is pointed at a PostgreSQL port
on which nothing listens, so every query fails to connect, as in an outage.
"""

import json
import socket

import pytest
from django.db import connections
from django.db.backends.postgresql.base import DatabaseWrapper
from django.test import Client

from apikeys.secrets_format import KEY_PREFIX, SERVICE_TOKEN_PREFIX, secret_generate


def _closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # free once the socket closes: nothing listens there


@pytest.fixture
def database_down(django_db_blocker):
    """The default connection, for this test, is a PostgreSQL server that is not there."""
    real = connections["default"]
    settings_dict = {
        **real.settings_dict, "ENGINE": "django.db.backends.postgresql", "NAME": "meterdesk",
        "USER": "postgres", "PASSWORD": "", "HOST": "127.0.0.1", "PORT": str(_closed_port()),
        "OPTIONS": {"connect_timeout": 2}, "CONN_MAX_AGE": 0,
    }
    unreachable = DatabaseWrapper(settings_dict, alias="default")
    with django_db_blocker.unblock():
        connections["default"] = unreachable
        try:
            yield
        finally:
            unreachable.close()
            connections["default"] = real


CUSTOMER_KEY = secret_generate(KEY_PREFIX)  # well formed, so each route asks the database
SERVICE_TOKEN = secret_generate(SERVICE_TOKEN_PREFIX)
EVENT = {"id": "req_1", "key_id": "key_x", "product": "document.invoice", "quantity": {"pages": 1}}

JSON_ROUTES = [
    ("post", "/api/v1/gateway/authorize", SERVICE_TOKEN, {"api_key": CUSTOMER_KEY}),
    ("post", "/api/v1/gateway/usage", SERVICE_TOKEN, EVENT),
    ("post", "/api/v1/gateway/usage", SERVICE_TOKEN, {"events": [EVENT]}),
    ("post", "/api/v1/prices/quote", CUSTOMER_KEY, {"product": "document.invoice", "quantity": {"pages": 1}}),
    ("get", "/api/v1/usage", CUSTOMER_KEY, None),
    ("get", "/api/v1/balance", CUSTOMER_KEY, None),
    ("get", "/api/v1/prices", None, None),
]


@pytest.mark.parametrize("method, path, credential, body", JSON_ROUTES)
def test_every_json_route_answers_503_with_retry_after(database_down, method, path, credential, body):
    client = Client(raise_request_exception=False)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {credential}"} if credential else {}
    if method == "post":
        response = client.post(path, data=json.dumps(body), content_type="application/json", **headers)
    else:
        response = client.get(path, **headers)
    assert response.status_code == 503, response.content[:300]
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "service_unavailable"
    assert int(response["Retry-After"]) > 0


@pytest.mark.parametrize("path", ["/pricing", "/"])
def test_pages_show_the_503_page(database_down, path):
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = "a-session-the-database-would-have-to-look-up"
    response = client.get(path)
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    html = response.content.decode()
    assert "briefly unavailable" in html and "try again" in html
