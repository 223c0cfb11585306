"""GET /api/v1/prices (public) and POST /api/v1/prices/quote (customer key)."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apikeys.services import key_create, key_revoke, service_token_create
from billing.ledger import ledger_sum
from pricing.models import Price

pytestmark = pytest.mark.django_db

PRICES = "/api/v1/prices"
QUOTE = "/api/v1/prices/quote"


@pytest.fixture
def secret(workspace, owner):
    return key_create(workspace=workspace, user=owner, name="CI")[1]


def post_quote(client, body, secret):
    return client.post(QUOTE, data=json.dumps(body), content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {secret}")


def by_product(body):
    return {(p["product"], p["unit"]): p for p in body["prices"]}


def test_anyone_gets_every_public_price_in_the_contracts_shape(client):
    response = client.get(PRICES)
    assert response.status_code == 200
    body = response.json()
    assert body["usd_per_credit"] == "0.01"
    prices = by_product(body)
    document = prices[("document.*", "page")]
    assert document["tiers"] == {"lo": "1", "auto": "2", "hi": "4"}
    assert document["addons"] == {"grounding": "2"}
    assert document["segment_seconds"] is None
    assert document["effective_from"] == "2025-01-01T00:00:00Z"
    assert prices[("document.markdown", "page")]["addons"] == {}
    assert prices[("audio.*", "audio_second")]["segment_seconds"] == 300
    assert prices[("video.*", "video_second")]["tiers"] == {"lo": "10", "auto": "10", "hi": "20"}
    llm = prices[("llm.*", "inference_second")]
    assert llm["rates"]["micro"] == "0.00872083" and llm["rates"]["super"] == "0.59890856"
    assert list(llm["rates"]) == ["micro", "xs", "sm", "md", "lg", "xl", "xxl", "super"]
    assert prices[("dedicated.*", "inference_second")]["rates"]["super"] == "2.99264"
    assert prices[("*", "gpu_second")]["example"] is True
    assert prices[("custom.*", "page")]["price"] == "6"
    assert prices[("enterprise.*", "image")]["price"] == "8"
    assert prices[("example.chat", "output_token")]["example"] is True


def test_a_scheduled_change_appears_with_its_later_effective_from(client):
    later = timezone.now() + timedelta(days=30)
    Price.objects.create(product="image.*", unit="image", meter="image", scheme="tiered",
                         price_lo=Decimal(1), price_auto=Decimal(3), price_hi=Decimal(5),
                         grounding_price=Decimal(2), effective_from=later)
    entries = [p for p in client.get(PRICES).json()["prices"] if p["product"] == "image.*"]
    assert [e["tiers"]["auto"] for e in entries] == ["2", "3"]
    assert entries[1]["effective_from"] > entries[0]["effective_from"]


def test_a_superseded_or_private_price_is_not_listed(client):
    Price.objects.create(product="document.*", unit="page", meter="document", scheme="tiered",
                         price_lo=1, price_auto=3, price_hi=5, effective_from=timezone.now() - timedelta(hours=1))
    Price.objects.create(product="secret.*", unit="page", meter="s", scheme="flat", price=1, is_public=False)
    entries = [p for p in client.get(PRICES).json()["prices"] if p["product"] in ("document.*", "secret.*")]
    assert [e["tiers"]["auto"] for e in entries] == ["3"]


def test_a_quote_answers_the_breakdown_and_charges_nothing(client, workspace, secret):
    before = ledger_sum(workspace.id)
    response = post_quote(client, {"product": "document.invoice", "tier": "hi", "grounding": True,
                                   "quantity": {"pages": 1}}, secret)
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["usd"], body["billed"]) == ("6.000000", "0.060000", True)
    assert [(r["meter"], r["unit"], r["quantity"], r["unit_price"], r["cost"]) for r in body["breakdown"]] == [
        ("document:hi", "page", "1", "4", "4.000000"),
        ("document:grounding", "page", "1", "2", "2.000000"),
    ]
    assert ledger_sum(workspace.id) == before


def test_a_quote_of_the_micro_llm_example(client, secret):
    body = post_quote(client, {"product": "llm.llama-3-8b",
                               "quantity": {"inference_seconds": 600, "instance": "micro"}}, secret).json()
    assert (body["total"], body["usd"]) == ("5.232498", "0.052325")


def test_a_quote_for_an_unknown_product_is_404(client, secret):
    response = post_quote(client, {"product": "nobody.knows", "quantity": {"pages": 1}}, secret)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_product"


def test_a_quote_refuses_bad_input_naming_the_field(client, secret):
    response = post_quote(client, {"product": "document.markdown", "grounding": True,
                                   "quantity": {"pages": 1}}, secret)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid_request", "param": "grounding",
        "message": "document.markdown does not support the grounding add-on; send grounding: false.",
    }
    response = post_quote(client, {"id": "req_1", "product": "document.a", "quantity": {"pages": 1}}, secret)
    assert (response.status_code, response.json()["error"]["param"]) == (400, "id")
    response = client.post(QUOTE, data="{not json", content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 400


def test_a_quote_needs_a_live_customer_key(client, workspace, owner):
    body = {"product": "document.a", "quantity": {"pages": 1}}
    assert post_quote(client, body, "nope").status_code == 401
    _token, service = service_token_create(name="gw")
    response = post_quote(client, body, service)
    assert (response.status_code, response.json()["error"]["code"]) == (401, "invalid_api_key")
    key, secret = key_create(workspace=workspace, user=owner, name="old")
    key_revoke(key=key, actor=owner)
    assert post_quote(client, body, secret).status_code == 401


def test_custom_models_are_quoted_only_when_registered_within_the_plan(client, workspace, owner, secret):
    from pricing.custom_models import custom_model_register

    body = {"product": "custom.invoices-v2", "quantity": {"pages": 2}}
    assert post_quote(client, body, secret).status_code == 404  # starter: pre-configured only
    workspace.billing.plan = workspace.billing.plan.__class__.objects.get(code="pro")
    workspace.billing.save()
    assert post_quote(client, body, secret).status_code == 404  # not registered yet
    custom_model_register(workspace=workspace, name="invoices-v2", user=owner)
    response = post_quote(client, body, secret)
    assert (response.status_code, response.json()["total"]) == (200, "12.000000")


def test_wrong_methods_are_405(client, secret):
    assert client.post(PRICES).status_code == 405
    response = client.get(QUOTE, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert (response.status_code, response.json()["error"]["code"]) == (405, "method_not_allowed")
