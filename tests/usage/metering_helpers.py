"""Fixtures and helpers of the metering tests (gateway usage, roll-ups, pages).

Imported with `from tests.usage.metering_helpers import *` so the pricing tests' folder
keeps no shared conftest of ours.
"""

import json

import pytest

from apikeys import keycache
from apikeys.services import key_create, service_token_create
from billing.ledger import ledger_sum, workspace_balance
from billing.models import EntryKind, LedgerEntry
from tests.factories import give_credits

USAGE = "/api/v1/gateway/usage"

__all__ = [
    "USAGE", "service_secret", "api_key", "gateway", "give_credits", "balance_of",
    "usage_charges", "event", "_metering_clean",
]


@pytest.fixture(autouse=True)
def _metering_clean():
    keycache.cache_clear()
    yield


@pytest.fixture
def service_secret(db):
    return service_token_create(name="gateway-test")[1]


@pytest.fixture
def api_key(workspace, owner):
    """(APIKey, secret) of `workspace`, with 1,000 credits in the workspace."""
    give_credits(workspace, 1000)
    return key_create(workspace=workspace, user=owner, name="CI")


@pytest.fixture
def gateway(client, service_secret):
    """gateway(body, token=None) -> response of POST /api/v1/gateway/usage."""

    def post(body, token=None, raw=None):
        return client.post(
            USAGE, data=raw if raw is not None else json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token or service_secret}",
        )

    return post


def balance_of(workspace):
    balance = workspace_balance(workspace.pk)
    assert balance == ledger_sum(workspace.pk)  # the shards always equal the ledger
    return balance


def usage_charges(workspace):
    return list(LedgerEntry.objects.filter(workspace=workspace, kind=EntryKind.USAGE))


def event(key, event_id="req_1", **fields):
    body = {"id": event_id, "key_id": key.public_id, "product": "document.invoice",
            "tier": "auto", "quantity": {"pages": 3}, "status_code": 200}
    body.update(fields)
    return body
