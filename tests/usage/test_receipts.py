"""Receipts: GET /api/v1/usage/events/{id} and the receipt page (docs/api.md)."""

from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from django.utils import timezone

from apikeys.services import key_create
from pricing.models import Price
from tests.usage.metering_helpers import *  # noqa: F401,F403
from tests.usage.metering_helpers import event, give_credits
from usage.services import usage_record_batch

pytestmark = pytest.mark.django_db


def _receipt(client, secret, event_id):
    return client.get(f"/api/v1/usage/events/{event_id}", HTTP_AUTHORIZATION=f"Bearer {secret}")


def _version(product, unit, at=None):
    """The price version of (product pattern, unit) in force at `at` (default now)."""
    at = at or timezone.now()
    return Price.objects.filter(product=product, unit=unit, effective_from__lte=at).latest("effective_from")


def test_a_billed_event_has_a_receipt_with_each_rows_price_version_and_formula(client, api_key):
    key, secret = api_key
    usage_record_batch([event(key, "req_hi", tier="hi", grounding=True, quantity={"pages": 3},
                              metadata={"user": "u_42"})])
    response = _receipt(client, secret, "req_hi")
    assert response.status_code == 200
    body = response.json()
    version = _version("document.*", "page")
    assert (body["id"], body["product"], body["tier"], body["addons"]) == ("req_hi", "document.invoice", "hi", ["grounding"])
    assert body["quantity"] == {"pages": "3"} and body["status_code"] == 200
    assert body["billed"] is True and body["not_billed_reason"] is None
    assert body["charged"] == body["total"] == "18.000000"
    assert [(r["meter"], r["price_version"], r["effective_from"], r["formula"]) for r in body["breakdown"]] == [
        ("document:hi", version.id, version.effective_from.isoformat().replace("+00:00", "Z"),
         "3 pages × 4 credits (tier hi) = 12.000000 credits"),
        ("document:grounding", version.id, version.effective_from.isoformat().replace("+00:00", "Z"),
         "3 pages × 2 credits (grounding add-on) = 6.000000 credits"),
    ]
    assert body["occurred_at"] and body["charged_at"]
    assert body["metadata"] == {"user": "u_42"}  # within the plan's retention


def test_segments_are_spelled_out_rounded_up(client, api_key):
    key, secret = api_key
    usage_record_batch([event(key, "req_audio", product="audio.call", quantity={"audio_seconds": 720})])
    row = _receipt(client, secret, "req_audio").json()["breakdown"][0]
    assert row["formula"] == (
        "720 audio seconds in started 300 s segments, rounded up: "
        "3 segments × 1 credits (tier auto) = 3.000000 credits"
    )
    assert row["price_version"] == _version("audio.*", "audio_second").id


def test_rounding_to_the_micro_credit_is_shown(client, api_key):
    key, secret = api_key
    usage_record_batch([event(key, "req_llm", product="llm.llama-3-8b", tier="auto",
                              quantity={"inference_seconds": "0.5", "instance": "micro"})])
    body = _receipt(client, secret, "req_llm").json()
    assert body["breakdown"][0]["formula"] == (
        "0.5 inference seconds × 0.00872083 credits (instance micro) = 0.004360415, "
        "rounded half up to 0.004360 credits"
    )
    assert body["charged"] == "0.004360"


def test_a_workflows_rows_each_name_their_own_price_version(client, api_key):
    key, secret = api_key
    usage_record_batch([{
        "id": "wf_1", "key_id": key.public_id, "product": "workflow.onboarding",
        "lines": [
            {"product": "document.markdown", "tier": "lo", "quantity": {"pages": 2}},
            {"product": "image.receipt", "tier": "hi", "quantity": {"images": 1}},
        ],
    }])
    body = _receipt(client, secret, "wf_1").json()
    assert [(r["product"], r["price_version"]) for r in body["breakdown"]] == [
        ("document.markdown", _version("document.markdown", "page").id),
        ("image.receipt", _version("image.*", "image").id),
    ]
    assert [line["product"] for line in body["lines"]] == ["document.markdown", "image.receipt"]
    assert body["total"] == body["charged"] == "6.000000"


def test_a_later_price_change_never_changes_a_receipt(client, api_key):
    key, secret = api_key
    before = _version("document.*", "page")
    usage_record_batch([event(key, "old_price")])
    newer = Price.objects.create(
        product="document.*", unit="page", meter="document", scheme="tiered",
        price_lo=5, price_auto=7, price_hi=9, grounding_price=3,
        effective_from=timezone.now(),  # after the first event occurred
    )
    usage_record_batch([event(key, "new_price")])
    old_row = _receipt(client, secret, "old_price").json()["breakdown"][0]
    new_row = _receipt(client, secret, "new_price").json()["breakdown"][0]
    assert (old_row["price_version"], old_row["formula"]) == (before.id, "3 pages × 2 credits (tier auto) = 6.000000 credits")
    assert (new_row["price_version"], new_row["formula"]) == (newer.id, "3 pages × 7 credits (tier auto) = 21.000000 credits")


@pytest.mark.parametrize("status, reason, words", [
    (429, "client_error", "not billed: the request failed with 429 (a client error)"),
    (502, "server_error", "not billed: the request failed with 502 (a server error)"),
])
def test_a_failed_request_says_why_it_was_not_billed(client, api_key, status, reason, words):
    key, secret = api_key
    usage_record_batch([event(key, "failed", status_code=status)])
    body = _receipt(client, secret, "failed").json()
    assert (body["billed"], body["not_billed_reason"], body["not_billed"]) == (False, reason, words)
    assert body["charged"] == "0" and body["charged_at"] is None


def test_another_workspaces_id_is_not_found(client, api_key, outsider):
    key, _ = api_key
    usage_record_batch([event(key, "ours")])
    other = outsider.memberships.get().workspace
    give_credits(other, 10)
    _other_key, other_secret = key_create(workspace=other, user=outsider, name="theirs")
    response = _receipt(client, other_secret, "ours")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found" and "No usage event with id 'ours'" in error["message"]


def test_metadata_goes_with_the_plans_retention_but_the_receipt_stays(client, api_key, workspace):
    key, secret = api_key
    assert workspace.billing.plan.metadata_retention_days == 30
    usage_record_batch([event(key, "half_year", metadata={"user": "u_1"})],
                       now=timezone.now() - relativedelta(months=6))
    body = _receipt(client, secret, "half_year").json()
    assert body["metadata"] is None
    assert body["charged"] == "6.000000" and body["breakdown"][0]["price_version"]


def test_after_thirteen_months_it_is_a_clear_404(client, api_key):
    key, secret = api_key
    usage_record_batch([event(key, "twelve")], now=timezone.now() - relativedelta(months=12, days=25))
    usage_record_batch([event(key, "fourteen")], now=timezone.now() - relativedelta(months=14))
    assert _receipt(client, secret, "twelve").status_code == 200
    response = _receipt(client, secret, "fourteen")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "older than 13 months" in response.json()["error"]["message"]


def test_ids_with_slashes_and_unstorable_text_answer_json(client, api_key):
    key, secret = api_key
    usage_record_batch([event(key, "batch/7/req 1")])
    assert _receipt(client, secret, "batch/7/req%201").json()["id"] == "batch/7/req 1"
    assert _receipt(client, secret, "bad%00id").status_code == 404
    assert _receipt(client, secret, "x" * 201).status_code == 404


def test_the_receipt_page_from_the_usage_lookup(client_for, owner, api_key):
    key, _ = api_key
    usage_record_batch([event(key, "req_page", tier="lo", quantity={"pages": 2}),
                        event(key, "req_503", status_code=503)])
    client = client_for(owner)
    lookup = client.get("/usage/?request=req_page").content.decode()
    assert 'href="/usage/receipt/?request=req_page"' in lookup
    page = client.get("/usage/receipt/?request=req_page")
    html = page.content.decode()
    version = _version("document.*", "page")
    assert page.status_code == 200
    assert "2 pages × 1 credits (tier lo) = 2.000000 credits" in html
    assert f"#{version.id}" in html and f"from {version.effective_from:%Y-%m-%d}" in html
    assert "document.invoice" in html and "2.000000" in html
    failed = client.get("/usage/receipt/?request=req_503").content.decode()
    assert "not billed: the request failed with 503 (a server error)" in failed


def test_the_receipt_page_of_an_unknown_or_foreign_id_is_a_404(client_for, outsider, api_key):
    key, _ = api_key
    usage_record_batch([event(key, "ours")])
    response = client_for(outsider).get("/usage/receipt/?request=ours")
    assert response.status_code == 404
    assert "No usage event with id" in response.content.decode()


def test_rows_without_their_price_version_row_still_show_the_arithmetic(client, api_key):
    """A version staff deleted since: the receipt keeps its rows and says so."""
    key, secret = api_key
    price = Price.objects.create(product="document.special", unit="page", meter="special",
                                 scheme="flat", price=Decimal("1.5"))
    usage_record_batch([event(key, "special", product="document.special", quantity={"pages": 2})])
    price.delete()
    row = _receipt(client, secret, "special").json()["breakdown"][0]
    assert row["price_version"] is None and row["formula"] == "2 pages × 1.5 credits = 3.000000 credits"


def test_an_unpriced_event_says_it_waits_for_a_price(client, api_key):
    key, secret = api_key
    usage_record_batch([event(key, "no_price", product="nonexistent.model", quantity={"pages": 1})])
    body = _receipt(client, secret, "no_price").json()
    assert (body["billed"], body["unpriced"], body["not_billed_reason"]) == (False, True, "unknown_product")
    assert body["not_billed"] == ("not billed: no price matched the product yet; it is charged once "
                                  "staff add a price")
    assert body["breakdown"] == [] and body["charged"] == "0" and body["total"] == "0.000000"
