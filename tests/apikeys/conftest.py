import json

import pytest
from django.core.cache import cache

from apikeys import keycache
from apikeys.ratelimit import ratelimit_reset_local
from apikeys.services import key_create, service_token_create
from billing.ledger import ledger_post
from billing.models import EntryKind

AUTHORIZE = "/api/v1/gateway/authorize"


@pytest.fixture(autouse=True)
def _fresh_limits_and_caches(settings):
    # Module-level state of this process; Redis is flushed by the shared cache.clear().
    keycache.cache_clear()
    ratelimit_reset_local()
    yield
    keycache.cache_clear()
    ratelimit_reset_local()


@pytest.fixture
def service_secret(db):
    _token, secret = service_token_create(name="gateway-test")
    return secret


@pytest.fixture
def key_and_secret(workspace, owner):
    return key_create(workspace=workspace, user=owner, name="CI")


@pytest.fixture
def secret(key_and_secret):
    return key_and_secret[1]


@pytest.fixture
def authorize(client, service_secret):
    """authorize(api_key, token=service_secret, body=None) -> response."""

    def call(api_key=None, token=None, body=None):
        payload = body if body is not None else {"api_key": api_key}
        return client.post(
            AUTHORIZE,
            data=json.dumps(payload),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token or service_secret}",
        )

    return call


def drain(workspace):
    from billing.ledger import workspace_balance

    balance = workspace_balance(workspace.pk)
    ledger_post(workspace=workspace, kind=EntryKind.ADJUSTMENT, amount_micro=-balance, memo="test drain")


def redis_flush():
    cache.clear()


