"""Redis really unreachable (a URL to a port nothing listens on): signing in still works
with its rate limits kept in process memory, authorize fails open and says so, and
/healthz answers 200 "degraded" instead of taking the instance out of service."""

import json
import logging

import pytest

from apikeys.ratelimit import ratelimit_reset_local
from config.cache import cache_settings, fallback_forget
from apikeys.services import key_create, service_token_create
from tests.factories import PASSWORD, UserFactory, give_credits

pytestmark = pytest.mark.django_db

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def redis_down(settings):
    """Cache, broker and limiter all pointed at the dead Redis, as in production's set-up."""
    settings.CACHES = {"default": cache_settings(redis_url=DEAD_REDIS, key_prefix="md")}
    settings.REDIS_URL = DEAD_REDIS
    settings.CELERY_BROKER_URL = DEAD_REDIS
    fallback_forget()  # the fallback's memory and outage state outlive one test's settings
    ratelimit_reset_local()
    yield
    fallback_forget()


def _login(client, email, password):
    return client.post("/accounts/login/", {"login": email, "password": password})


def test_signing_in_works_while_redis_is_down(client, redis_down):
    user = UserFactory(email="ada@example.com")
    response = _login(client, "ada@example.com", PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.get(response["Location"], follow=True).status_code == 200  # the dashboard too


def test_the_sign_in_limit_still_holds_in_process_memory(client, redis_down):
    UserFactory(email="ada@example.com")
    for _ in range(5):  # login_failed allows 5 per 5 minutes per address
        assert "_auth_user_id" not in client.session
        _login(client, "ada@example.com", "wrong password")
    page = _login(client, "ada@example.com", PASSWORD)
    assert "Too many failed login attempts" in page.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("down, status, failing", [(False, "ok", "ok"), (True, "degraded", "failing")])
def test_healthz_is_200_ok_or_degraded_while_the_database_answers(client, request, down, status, failing):
    if down:
        request.getfixturevalue("redis_down")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == status
    assert response.json()["checks"] == {"database": "ok", "cache": failing, "broker": failing}


def test_authorize_fails_open_and_logs_and_counts_each_decision(client, redis_down, workspace, owner, caplog):
    give_credits(workspace, 100)
    _key, secret = key_create(workspace=workspace, user=owner, name="CI")
    _token, token = service_token_create(name="gateway")
    before = client.get("/healthz").json()["degraded"]["authorize_rate_limit_fail_open"]
    caplog.set_level(logging.WARNING, logger="meterdesk.apikeys")
    responses = [
        client.post("/api/v1/gateway/authorize", json.dumps({"api_key": secret}),
                    content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
        for _ in range(12)  # starter allows 10 a minute: the limit could not be counted
    ]
    assert [r.status_code for r in responses] == [200] * 12
    assert responses[-1]["X-RateLimit-Limit"] == "10"
    lines = [r for r in caplog.records if "rate limit failed open" in r.getMessage()]
    assert len(lines) == 12 and workspace.slug in lines[0].getMessage()
    after = client.get("/healthz").json()["degraded"]["authorize_rate_limit_fail_open"]
    assert after == before + 12
