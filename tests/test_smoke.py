def test_every_response_gets_a_request_id(client, db):
    assert client.get("/healthz")["X-Request-Id"].startswith("req_")


def test_a_valid_request_id_is_echoed(client, db):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="gw-1234")
    assert response["X-Request-Id"] == "gw-1234"


def test_new_workspace_starts_on_starter_with_its_first_cycle(workspace):
    assert workspace.billing.plan.code == "starter"
    assert workspace.cycles.count() == 1
