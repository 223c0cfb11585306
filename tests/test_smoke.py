def test_healthz_reports_database_cache_and_broker_ok(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "cache": "ok", "broker": "ok"}
    assert response["X-Request-Id"].startswith("req_")


def test_a_valid_request_id_is_echoed(client, db):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="gw-1234")
    assert response["X-Request-Id"] == "gw-1234"


def test_new_workspace_starts_on_starter_with_its_first_cycle(workspace):
    assert workspace.billing.plan.code == "starter"
    assert workspace.cycles.count() == 1
