"""An example request and answer for every route of the API, as the routes really answer.

The OpenAPI document carries them (each operation's request body and 200 answer get an
`example`), and the /api/v1/docs page shows them as a curl command and its JSON. The
answers were taken from the running app on the seeded demo and trimmed to a few rows;
tests/usage/test_api_docs.py checks each against its schema, and that every route of the
URLconf under /api/ has one.
"""

EXAMPLE_KEY = "mdk_live_EXAMPLE0000000000000000000000000000"
EXAMPLE_TOKEN = "mdk_svc_EXAMPLE00000000000000000000000000000"
KEY_ID = "key_2e1694cf1941cca15a9fb465"

_ROW_AUTO = {"product": "document.invoice", "meter": "document:auto", "unit": "page",
             "quantity": "3", "unit_price": "2", "cost": "6.000000"}

# (method, path) -> the request ("body", "query", and for a path parameter "path" and
# "params") and the 200 "answer".
EXAMPLES = {
    ("post", "/api/v1/gateway/authorize"): {
        "body": {"api_key": EXAMPLE_KEY},
        "answer": {"key_id": KEY_ID, "workspace": "acme-ai", "plan": "starter", "balance": "1253.222952",
                   "rate_limit": {"limit": 10, "remaining": 9, "reset": "2026-11-28T16:15:03Z"}},
    },
    ("post", "/api/v1/gateway/usage"): {
        "body": {"id": "evt_01J9Z3", "key_id": KEY_ID, "product": "document.invoice", "tier": "auto",
                 "quantity": {"pages": 3}, "occurred_at": "2026-11-28T16:14:03Z", "status_code": 200},
        "answer": {"id": "evt_01J9Z3", "billed": True, "charged": "6.000000", "usd": "0.060000",
                   "breakdown": [_ROW_AUTO], "balance": "1247.222952"},
    },
    ("get", "/api/v1/balance"): {
        "answer": {"workspace": "acme-ai", "plan": "starter", "billing_mode": "prepaid",
                   "balance": "1244.222952", "included_remaining": "0.000000", "overage": "0.000000",
                   "overage_limit": None, "cycle_start": "2026-11-28T00:00:00Z",
                   "cycle_end": "2026-12-28T00:00:00Z",
                   "auto_recharge": {"enabled": False, "threshold": None, "amount": None},
                   "forecast": {"daily_rate": "12.000000", "days_left": 103, "projected_cycle_spend": "358.000000"}},
    },
    ("get", "/api/v1/usage"): {
        "query": {"start": "2026-11-26", "end": "2026-11-28", "group_by": "product"},
        "answer": {"start": "2026-11-26", "end": "2026-11-28", "group_by": "product", "rows": [
            {"day": None, "key_id": None, "product": "document.invoice", "requests": 14,
             "quantity": {"pages": "30"}, "credits": "61.000000"},
            {"day": None, "key_id": None, "product": "llm.llama-3-8b", "requests": 5,
             "quantity": {"inference_seconds": "454"}, "credits": "3.959258"},
        ], "total_credits": "64.959258"},
    },
    ("get", "/api/v1/usage/events/{id}"): {
        "path": "/api/v1/usage/events/evt_01J9Z3", "params": {"id": "evt_01J9Z3"},
        "answer": {
            "id": "evt_01J9Z3", "key_id": KEY_ID, "key_name": "Production", "product": "document.invoice",
            "tier": "auto", "addons": [], "quantity": {"pages": "3"}, "lines": None, "status_code": 200,
            "billed": True, "not_billed_reason": None, "not_billed": None,
            "breakdown": [{**_ROW_AUTO, "price_version": 1, "effective_from": "2025-01-01T00:00:00Z",
                           "formula": "3 pages × 2 credits (tier auto) = 6.000000 credits"}],
            "charged": "6.000000", "usd": "0.060000", "total": "6.000000",
            "occurred_at": "2026-11-28T16:14:03Z", "charged_at": "2026-11-28T16:14:04Z", "metadata": None,
        },
    },
    ("get", "/api/v1/prices"): {
        "answer": {"usd_per_credit": "0.01", "prices": [
            {"product": "document.*", "unit": "page", "meter": "document", "description": "Documents, per page",
             "example": False, "tiers": {"lo": "1", "auto": "2", "hi": "4"}, "addons": {"grounding": "2"},
             "segment_seconds": None, "effective_from": "2025-01-01T00:00:00Z"},
            {"product": "llm.*", "unit": "inference_second", "meter": "llm",
             "description": "Language models: meter price × inference seconds by instance size",
             "example": False, "rates_by": "instance", "rates": {"micro": "0.00872083", "xs": "0.01475035"},
             "addons": {}, "segment_seconds": None, "effective_from": "2025-01-01T00:00:00Z"},
        ]},
    },
    ("post", "/api/v1/prices/quote"): {
        "body": {"product": "document.invoice", "tier": "hi", "grounding": True, "quantity": {"pages": 3}},
        "answer": {"product": "document.invoice", "billed": True, "total": "18.000000", "usd": "0.180000",
                   "breakdown": [
                       {"product": "document.invoice", "meter": "document:hi", "unit": "page", "quantity": "3",
                        "unit_price": "4", "cost": "12.000000"},
                       {"product": "document.invoice", "meter": "document:grounding", "unit": "page",
                        "quantity": "3", "unit_price": "2", "cost": "6.000000"},
                   ]},
    },
    ("get", "/api/v1/openapi.json"): {
        "answer": {"openapi": "3.1.0", "info": {"title": "Meterdesk API", "version": "1"},
                   "paths": {"/api/v1/balance": {"get": {"operationId": "balance"}}}},
    },
    ("get", "/api/v1/ping"): {"answer": {"status": "ok"}},
    ("get", "/healthz"): {
        "answer": {"status": "ok", "checks": {"database": "ok", "cache": "ok", "broker": "ok"},
                   "degraded": {"authorize_rate_limit_fail_open": 0, "cache_local_fallback": 0}},
    },
}
