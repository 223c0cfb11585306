"""POST /api/v1/gateway/authorize: every answer of docs/api.md, in its check order."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apikeys.models import APIKey
from apikeys.services import key_create, key_revoke, key_spend_add, service_tokens_revoke
from apikeys.models import ServiceToken
from billing.models import BillingAccount, BillingMode, Plan
from billing.money import MICRO
from teams.signals import member_removed
from tests.apikeys.conftest import AUTHORIZE, drain
from tests.factories import give_credits


def error_code(response):
    return response.json()["error"]["code"]


def test_it_answers_key_workspace_plan_balance_and_rate_limit(authorize, workspace, key_and_secret):
    key, secret = key_and_secret
    drain(workspace)
    give_credits(workspace, 95)
    response = authorize(secret)
    assert response.status_code == 200
    body = response.json()
    assert body["key_id"] == key.public_id and body["key_id"].startswith("key_")
    assert body["workspace"] == workspace.slug
    assert body["plan"] == "starter"
    assert body["balance"] == "95.000000"
    assert body["rate_limit"]["limit"] == 10 and body["rate_limit"]["remaining"] == 9
    assert body["rate_limit"]["reset"].endswith("Z")
    assert response["X-RateLimit-Limit"] == "10"
    assert response["X-RateLimit-Remaining"] == "9"
    assert int(response["X-RateLimit-Reset"]) > timezone.now().timestamp()
    assert response["X-Request-Id"]


@pytest.mark.parametrize("token", ["", "nonsense", "mdk_svc_" + "A" * 36])
def test_a_bad_service_token_is_401_invalid_service_token(client, workspace, secret, token):
    give_credits(workspace, 10)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    response = client.post(AUTHORIZE, json.dumps({"api_key": secret}), content_type="application/json", **headers)
    assert response.status_code == 401 and error_code(response) == "invalid_service_token"


def test_a_customer_key_is_refused_on_the_gateway_route(authorize, workspace, secret):
    give_credits(workspace, 10)
    response = authorize(secret, token=secret)
    assert response.status_code == 401 and error_code(response) == "invalid_service_token"


def test_a_revoked_service_token_is_refused(authorize, workspace, secret, service_secret):
    give_credits(workspace, 10)
    assert authorize(secret).status_code == 200
    service_tokens_revoke(ServiceToken.objects.all())
    response = authorize(secret)
    assert response.status_code == 401 and error_code(response) == "invalid_service_token"


def test_the_settings_service_token_is_accepted(authorize, settings, workspace, secret):
    settings.METERING_SERVICE_TOKEN = "from-the-environment-0123456789"
    give_credits(workspace, 10)
    assert authorize(secret, token="from-the-environment-0123456789").status_code == 200
    assert authorize(secret, token="from-the-environment-012345678").status_code == 401


@pytest.mark.parametrize("body,param", [
    ({}, "api_key"),
    ({"api_key": 42}, "api_key"),
    ({"api_key": "x", "model": "gpt"}, "model"),
])
def test_a_bad_body_is_400_naming_the_field(authorize, body, param):
    response = authorize(body=body)
    assert response.status_code == 400 and error_code(response) == "invalid_request"
    assert response.json()["error"]["param"] == param


def test_a_body_that_is_not_json_is_400(client, service_secret):
    response = client.post(AUTHORIZE, "{nope", content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {service_secret}")
    assert response.status_code == 400 and error_code(response) == "invalid_request"


@pytest.mark.parametrize("api_key", ["", "sk-something", "mdk_live_" + "A" * 36, "mdk_live_short"])
def test_unknown_or_malformed_keys_are_401(authorize, db, api_key):
    response = authorize(body={"api_key": api_key})
    assert response.status_code in (400, 401)
    if api_key:
        assert response.status_code == 401 and error_code(response) == "invalid_api_key"


def test_a_well_formed_but_unknown_key_is_401(authorize, db):
    from apikeys.secrets_format import KEY_PREFIX, secret_generate

    response = authorize(secret_generate(KEY_PREFIX))
    assert response.status_code == 401 and error_code(response) == "invalid_api_key"


def test_a_service_token_is_refused_on_a_customer_route(rf, service_secret, workspace, secret):
    from apikeys.auth import api_key_required
    from config.api import json_api
    from django.http import JsonResponse

    @json_api
    @api_key_required
    def view(request):
        return JsonResponse({"workspace": request.workspace.slug, "key": request.api_key.public_id})

    refused = view(rf.get("/api/v1/balance", HTTP_AUTHORIZATION=f"Bearer {service_secret}"))
    assert refused.status_code == 401 and json.loads(refused.content)["error"]["code"] == "invalid_api_key"
    accepted = view(rf.get("/api/v1/balance", HTTP_AUTHORIZATION=f"Bearer {secret}"))
    assert accepted.status_code == 200 and json.loads(accepted.content)["workspace"] == workspace.slug


def test_a_revoked_key_is_refused_at_once(authorize, workspace, owner, key_and_secret):
    key, secret = key_and_secret
    give_credits(workspace, 10)
    assert authorize(secret).status_code == 200  # warms every cache there is
    key_revoke(key=key, actor=owner)
    response = authorize(secret)
    assert response.status_code == 401 and error_code(response) == "invalid_api_key"


def test_an_expired_key_is_refused(authorize, workspace, owner):
    give_credits(workspace, 10)
    _key, secret = key_create(workspace=workspace, user=owner, name="Old",
                              expires_at=timezone.now() + timedelta(seconds=1))
    assert authorize(secret).status_code == 200  # cached now, where there is a cache
    time.sleep(1.1)
    assert error_code(authorize(secret)) == "invalid_api_key"


def test_a_removed_members_keys_are_refused(authorize, workspace, owner, member):
    give_credits(workspace, 10)
    _key, secret = key_create(workspace=workspace, user=member, name="Member's")
    _other, owners_secret = key_create(workspace=workspace, user=owner, name="Owner's")
    assert authorize(secret).status_code == 200
    member_removed.send(sender=None, workspace=workspace, user=member, actor=owner)
    assert error_code(authorize(secret)) == "invalid_api_key"
    assert authorize(owners_secret).status_code == 200


def test_removal_consequences_list_the_members_live_keys(workspace, owner, member):
    from teams.signals import member_removal_consequences

    key_create(workspace=workspace, user=member, name="CI")
    gone, _ = key_create(workspace=workspace, user=member, name="Old")
    key_revoke(key=gone, actor=owner)
    key_create(workspace=workspace, user=owner, name="Owner's")
    sentences = [s for _r, result in member_removal_consequences.send(
        sender=None, workspace=workspace, user=member) for s in result]
    assert len(sentences) == 1
    assert sentences[0].startswith("API key “CI” (mdk_live_") and sentences[0].endswith("…) will be revoked")


def test_out_of_credits_is_402(authorize, workspace, secret):
    drain(workspace)
    response = authorize(secret)
    assert response.status_code == 402 and error_code(response) == "out_of_credits"


def test_a_negative_prepaid_balance_is_402(authorize, workspace, secret):
    drain(workspace)
    give_credits(workspace, -5)
    assert error_code(authorize(secret)) == "out_of_credits"


def test_overage_limit_reached_is_402_spend_limit_reached(authorize, workspace, secret, committed):
    account = BillingAccount.objects.get(workspace=workspace)
    account.plan = Plan.objects.get(code="pro")
    account.overage_limit = 100
    account.save()
    drain(workspace)
    give_credits(workspace, -50)
    assert authorize(secret).status_code == 200  # below zero, within the overage limit
    with committed():
        give_credits(workspace, -50)
    response = authorize(secret)
    assert response.status_code == 402 and error_code(response) == "spend_limit_reached"


def test_pay_as_you_go_starter_may_go_below_zero(authorize, workspace, secret):
    BillingAccount.objects.filter(workspace=workspace).update(
        billing_mode=BillingMode.PAY_AS_YOU_GO, overage_limit=10)
    drain(workspace)
    give_credits(workspace, -3)
    assert authorize(secret).status_code == 200


def test_key_spend_cap_reached_is_403_and_comes_before_402(authorize, workspace, key_and_secret, committed):
    key, secret = key_and_secret
    give_credits(workspace, 100)
    APIKey.objects.filter(pk=key.pk).update(spend_cap_credits=5)
    key_spend_add(key, 4 * MICRO)
    assert authorize(secret).status_code == 200
    with committed():
        key_spend_add(key, 1 * MICRO)
    response = authorize(secret)
    assert response.status_code == 403 and error_code(response) == "key_spend_limit_reached"
    with committed():
        drain(workspace)
    assert error_code(authorize(secret)) == "key_spend_limit_reached"


def test_key_spend_counts_only_the_current_cycle(workspace, key_and_secret):
    from apikeys.selectors import key_cycle_spend_micro

    key, _ = key_and_secret
    key_spend_add(key, 7 * MICRO, at=timezone.now() - timedelta(days=40))
    key_spend_add(key, 2 * MICRO)
    key_spend_add(key, 3 * MICRO)
    assert key_cycle_spend_micro(key.pk, workspace.pk) == 5 * MICRO


def test_the_starter_limit_is_10_per_minute_and_the_11th_is_429(authorize, workspace, secret):
    give_credits(workspace, 100)
    for n in range(10):
        response = authorize(secret)
        assert response.status_code == 200, n
        assert response["X-RateLimit-Remaining"] == str(9 - n)
    response = authorize(secret)
    assert response.status_code == 429 and error_code(response) == "rate_limited"
    assert 59 <= int(response["Retry-After"]) <= 60
    assert response["X-RateLimit-Limit"] == "10" and response["X-RateLimit-Remaining"] == "0"
    assert "X-RateLimit-Reset" in response


def test_refused_requests_do_not_count_against_the_limit(authorize, workspace, owner, secret, committed):
    drain(workspace)
    for _ in range(12):
        assert authorize(secret).status_code == 402
    with committed():
        give_credits(workspace, 100)
    assert authorize(secret)["X-RateLimit-Remaining"] == "9"


def test_429_comes_before_the_spend_checks(authorize, workspace, secret):
    give_credits(workspace, 100)
    for _ in range(10):
        authorize(secret)
    drain(workspace)
    assert authorize(secret).status_code == 429


def test_the_limit_is_per_workspace(authorize, workspace, secret, outsider):
    other_workspace = outsider.memberships.get().workspace
    give_credits(workspace, 100)
    give_credits(other_workspace, 100)
    _k, other_secret = key_create(workspace=other_workspace, user=outsider, name="Theirs")
    for _ in range(10):
        authorize(secret)
    assert authorize(secret).status_code == 429
    assert authorize(other_secret).status_code == 200


def test_an_enterprise_workspace_without_a_limit_has_null_limit(authorize, workspace, secret):
    BillingAccount.objects.filter(workspace=workspace).update(
        plan=Plan.objects.get(code="enterprise"), unlimited_rate=True)
    give_credits(workspace, 100)
    for _ in range(15):
        response = authorize(secret)
    assert response.status_code == 200
    assert response.json()["rate_limit"] == {"limit": None, "remaining": None, "reset": None}
    assert not [name for name in response.headers if name.lower().startswith("x-ratelimit")]


def test_the_body_and_the_header_name_the_same_reset_second(authorize, workspace, secret):
    from datetime import datetime

    give_credits(workspace, 100)
    for _ in range(11):
        response = authorize(secret)
        reset = int(response["X-RateLimit-Reset"])
        assert reset >= time.time()  # a slot frees at or after this second, never before
        if response.status_code == 200:
            body_reset = datetime.fromisoformat(response.json()["rate_limit"]["reset"]).timestamp()
            assert body_reset == reset
    assert response.status_code == 429


def test_last_used_is_written_at_most_once_a_minute(authorize, workspace, key_and_secret, django_assert_max_num_queries):
    key, secret = key_and_secret
    give_credits(workspace, 100)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        for _ in range(8):
            assert authorize(secret).status_code == 200
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE") and "last_used_at" in q["sql"]]
    assert len(writes) == 1
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_get_is_not_allowed(client, service_secret):
    response = client.get(AUTHORIZE, HTTP_AUTHORIZATION=f"Bearer {service_secret}")
    assert response.status_code == 405
