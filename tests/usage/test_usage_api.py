"""POST /api/v1/gateway/usage: single events, batches, bad input, credentials (docs/api.md)."""

import json

import pytest

from apikeys.services import key_create, key_revoke
from billing.money import MICRO
from tests.factories import UserFactory, WorkspaceFactory
from tests.usage.metering_helpers import *  # noqa: F401,F403
from tests.usage.metering_helpers import USAGE, balance_of, event, give_credits, usage_charges
from usage.models import UsageEvent

pytestmark = pytest.mark.django_db


def test_it_charges_a_single_event_and_answers_the_breakdown(gateway, api_key, workspace):
    key, _ = api_key
    before = balance_of(workspace)
    response = gateway(event(key, "req_a", tier="hi", grounding=True, quantity={"pages": 1}))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "req_a"
    assert body["billed"] is True
    assert body["charged"] == "6.000000"
    assert body["usd"] == "0.060000"
    assert [(row["unit"], row["quantity"], row["unit_price"], row["cost"]) for row in body["breakdown"]] == [
        ("page", "1", "4", "4.000000"), ("page", "1", "2", "2.000000")
    ]
    assert balance_of(workspace) == before - 6 * MICRO
    assert body["balance"] == f"{(before - 6 * MICRO) / MICRO:.6f}"
    assert [e.amount_micro for e in usage_charges(workspace)] == [-6 * MICRO]
    stored = UsageEvent.objects.get(workspace=workspace, event_id="req_a")
    assert stored.charged_micro == 6 * MICRO and stored.billed and stored.price_versions


def test_a_twelve_minute_audio_file_costs_three_segments(gateway, api_key):
    key, _ = api_key
    body = gateway(event(key, "req_audio", product="audio.call", quantity={"audio_seconds": 720})).json()
    assert body["charged"] == "3.000000"


def test_a_workflow_charges_the_sum_of_its_lines(gateway, api_key, workspace):
    key, _ = api_key
    body = gateway({
        "id": "wf_1", "key_id": key.public_id, "product": "workflow.onboarding",
        "lines": [
            {"product": "document.invoice", "tier": "lo", "quantity": {"pages": 2}},
            {"product": "image.receipt", "tier": "hi", "quantity": {"images": 1}},
        ],
    }).json()
    assert body["charged"] == "6.000000"
    assert len(body["breakdown"]) == 2


@pytest.mark.parametrize("status, reason", [(404, "client_error"), (503, "server_error")])
def test_failed_requests_are_recorded_not_billed(gateway, api_key, workspace, status, reason):
    key, _ = api_key
    before = balance_of(workspace)
    body = gateway(event(key, f"req_{status}", status_code=status)).json()
    assert body["billed"] is False
    assert body["charged"] == "0"
    assert body["not_billed_reason"] == reason
    assert balance_of(workspace) == before
    stored = UsageEvent.objects.get(event_id=f"req_{status}")
    assert stored.status_code == status and not stored.billed and stored.not_billed_reason == reason


def test_queue_time_is_recorded_and_never_billed(gateway, api_key):
    key, _ = api_key
    body = gateway(event(key, "req_q", queue_seconds="42.5")).json()
    assert body["charged"] == "6.000000"  # 3 pages on auto; the 42.5 s queued cost nothing
    assert UsageEvent.objects.get(event_id="req_q").queue_seconds == "42.5"


def test_it_is_never_refused_for_lack_of_credits(gateway, workspace, owner):
    key, _ = key_create(workspace=workspace, user=owner, name="broke")
    before = balance_of(workspace)
    body = gateway(event(key, "req_broke", quantity={"pages": 100})).json()
    assert body["billed"] is True
    assert balance_of(workspace) == before - 200 * MICRO


def test_a_key_revoked_after_authorize_is_still_charged(gateway, api_key, workspace, owner):
    key, _ = api_key
    key_revoke(key=key, actor=owner)
    before = balance_of(workspace)
    response = gateway(event(key, "req_after_revoke"))
    assert response.status_code == 200
    assert balance_of(workspace) == before - 6 * MICRO


def test_an_unknown_key_id_is_401_and_records_nothing(gateway, db):
    response = gateway({"id": "r", "key_id": "key_000000000000000000000000", "product": "document.x",
                        "quantity": {"pages": 1}})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert not UsageEvent.objects.exists()


def test_a_customer_key_is_refused_on_the_gateway_route(gateway, api_key):
    key, secret = api_key
    response = gateway(event(key), token=secret)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_service_token"
    assert not UsageEvent.objects.exists()


@pytest.mark.parametrize("change, param", [
    ({"quantity": {"pages": -1}}, "quantity.pages"),
    ({"quantity": {"pages": "NaN"}}, "quantity.pages"),
    ({"quantity": {"pages": "1e30"}}, "quantity.pages"),
    ({"quantity": {"pages": 1.5}}, "quantity.pages"),
    ({"quantity": {"parsecs": 1}}, "quantity.parsecs"),
    ({"product": "llm.llama", "quantity": {"inference_seconds": 60}}, "quantity.instance"),
    ({"product": "some-model", "quantity": {"gpu_seconds": 60}}, "quantity.machine"),
    ({"colour": "blue"}, "colour"),
    ({"product": "document.markdown", "grounding": True}, "grounding"),
])
def test_bad_input_is_400_naming_the_field_and_charges_nothing(gateway, api_key, workspace, change, param):
    key, _ = api_key
    before = balance_of(workspace)
    response = gateway(event(key, "req_bad", **change))
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_request"
    assert response.json()["error"]["param"] == param
    assert balance_of(workspace) == before
    assert not UsageEvent.objects.exists()


def test_nan_as_a_json_constant_is_refused(gateway, api_key):
    key, _ = api_key
    raw = json.dumps(event(key)).replace('"pages": 3', '"pages": NaN')
    response = gateway(None, raw=raw)
    assert response.status_code == 400
    assert not UsageEvent.objects.exists()


def test_a_refused_event_can_be_sent_again_corrected(gateway, api_key):
    key, _ = api_key
    assert gateway(event(key, "req_fix", quantity={"pages": -3})).status_code == 400
    response = gateway(event(key, "req_fix"))
    assert response.status_code == 200 and response.json()["billed"] is True


def test_unknown_product_is_404_kept_unpriced_and_not_charged(gateway, api_key, workspace):
    key, _ = api_key
    before = balance_of(workspace)
    response = gateway(event(key, "req_unknown", product="hologram.render", quantity={"images": 1}))
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "unknown_product"
    assert "charged once staff" in error["message"]
    assert balance_of(workspace) == before
    stored = UsageEvent.objects.get(event_id="req_unknown")
    assert stored.is_unpriced and stored.unpriced_reason
    # A replay answers the same.
    assert gateway(event(key, "req_unknown", product="hologram.render", quantity={"images": 1})).json() == response.json()


# --- Batches ---------------------------------------------------------------------------------

def test_a_batch_answers_in_order_with_errors_in_their_slots(gateway, api_key, workspace):
    key, _ = api_key
    before = balance_of(workspace)
    response = gateway({"events": [
        event(key, "b1"),
        event(key, "b2", quantity={"pages": -1}),
        event(key, "b3", product="image.x", quantity={"images": 2}),
    ]})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r.get("id") for r in results] == ["b1", "b2", "b3"]
    assert results[0]["charged"] == "6.000000"
    assert results[1]["error"]["code"] == "invalid_request"
    assert results[1]["error"]["param"] == "events[1].quantity.pages"
    assert results[2]["charged"] == "4.000000"
    assert balance_of(workspace) == before - 10 * MICRO
    assert results[2]["balance"] == f"{(before - 10 * MICRO) / MICRO:.6f}"
    assert sorted(UsageEvent.objects.values_list("event_id", flat=True)) == ["b1", "b3"]


def test_a_batch_may_mix_workspaces_each_with_its_balance(gateway, api_key, workspace):
    key, _ = api_key
    other_owner = UserFactory(email="other@example.com")
    other = WorkspaceFactory(owner=other_owner, name="Other")
    give_credits(other, 50)
    other_key, _ = key_create(workspace=other, user=other_owner, name="other")
    before, other_before = balance_of(workspace), balance_of(other)
    results = gateway({"events": [event(key, "same"), event(other_key, "same", quantity={"pages": 1})]}).json()["results"]
    assert results[0]["balance"] == f"{(before - 6 * MICRO) / MICRO:.6f}"
    assert results[1]["balance"] == f"{(other_before - 2 * MICRO) / MICRO:.6f}"
    assert balance_of(workspace) == before - 6 * MICRO
    assert balance_of(other) == other_before - 2 * MICRO


def test_too_many_events_is_400_and_charges_nothing(gateway, api_key, workspace):
    key, _ = api_key
    before = balance_of(workspace)
    response = gateway({"events": [event(key, f"e{i}") for i in range(1001)]})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "events"
    assert balance_of(workspace) == before
    assert not UsageEvent.objects.exists()


@pytest.mark.parametrize("body", [{"events": []}, {"events": "x"}, {"events": [], "more": 1}])
def test_an_empty_or_malformed_batch_is_400(gateway, api_key, body):
    assert gateway(body).status_code == 400


def test_a_batch_of_1000_is_accepted(gateway, api_key, workspace):
    key, _ = api_key
    give_credits(workspace, 10_000)
    before = balance_of(workspace)
    results = gateway({"events": [event(key, f"e{i}", quantity={"pages": 1}) for i in range(1000)]}).json()["results"]
    assert len(results) == 1000 and all(r["billed"] for r in results)
    assert balance_of(workspace) == before - 2000 * MICRO
    assert len(usage_charges(workspace)) == 1000


def test_metadata_is_not_stored_on_a_zero_retention_plan(gateway, api_key, workspace):
    key, _ = api_key
    workspace.billing.plan.metadata_retention_days = 0
    workspace.billing.plan.save()
    gateway(event(key, "req_meta", metadata={"user": "u_42"}))
    assert UsageEvent.objects.get(event_id="req_meta").metadata is None


def test_metadata_is_kept_for_the_plans_retention(gateway, api_key, workspace):
    key, _ = api_key
    workspace.billing.plan.metadata_retention_days = 30
    workspace.billing.plan.save()
    gateway(event(key, "req_meta", metadata={"user": "u_42"}))
    stored = UsageEvent.objects.get(event_id="req_meta")
    assert stored.metadata == {"user": "u_42"}
    assert 29 <= (stored.metadata_expires_at - stored.received_at).days <= 30


def test_get_is_not_allowed(client, service_secret):
    response = client.get(USAGE, HTTP_AUTHORIZATION=f"Bearer {service_secret}")
    assert response.status_code == 405
