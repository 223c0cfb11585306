"""Authorize caches a workspace's spend state; a usage charge must reach it at once."""

import json

import pytest

from tests.usage.metering_helpers import *  # noqa: F401,F403
from tests.usage.metering_helpers import event

AUTHORIZE = "/api/v1/gateway/authorize"

pytestmark = [pytest.mark.redis, pytest.mark.django_db]


@pytest.fixture
def authorize(client, service_secret):
    def call(secret):
        return client.post(
            AUTHORIZE, data=json.dumps({"api_key": secret}), content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {service_secret}",
        )

    return call


def _drain(key):
    # 300 pages on hi: 1,200 credits against the 1,000 the workspace has.
    return event(key, "req_drain", tier="hi", quantity={"pages": 300})


def test_a_single_usage_charge_makes_the_next_authorize_refuse(authorize, gateway, api_key, committed):
    key, secret = api_key
    first = authorize(secret)
    assert first.status_code == 200 and first.json()["balance"] == "1000.000000"

    with committed():
        assert gateway(_drain(key)).json()["balance"] == "-200.000000"

    refused = authorize(secret)
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "out_of_credits"


def test_a_batch_charge_makes_the_next_authorize_refuse(authorize, gateway, api_key, committed):
    key, secret = api_key
    assert authorize(secret).status_code == 200

    with committed():
        results = gateway({"events": [_drain(key)]}).json()["results"]
    assert results[0]["balance"] == "-200.000000"

    assert authorize(secret).status_code == 402


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_charge_written_in_autocommit_makes_the_next_authorize_refuse(authorize, gateway, api_key):
    # Outside any transaction the event is one autocommit statement (usage.pgwrite): the
    # spend version must be bumped right after it, before the usage call answers.
    key, secret = api_key
    assert authorize(secret).status_code == 200
    assert gateway(_drain(key)).json()["balance"] == "-200.000000"
    assert authorize(secret).status_code == 402
