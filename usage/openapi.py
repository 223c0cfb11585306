"""The OpenAPI 3.1 document of docs/api.md's JSON routes, and its human-readable page.

The request schemas come from the definitions the code validates with: an event's from
pricing.event_schema (parse_event's constants and patterns), the usage report's parameters
from usage.reports, the batch size from usage.services. tests/usage/test_openapi.py runs
schemathesis with every check against the served document to keep both honest.
"""

import json

from django.http import JsonResponse
from django.shortcuts import render
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from config.api import DATE_PATTERN, RETRY_AFTER_SECONDS
from pricing.event_schema import event_schemas
from usage.api_examples import EXAMPLES
from usage.reports import DEFAULT_RANGE_DAYS, GROUPINGS, MAX_RANGE_DAYS
from usage.services import MAX_BATCH

# Any text but NUL, which every JSON body refuses (config.api; as the event's texts say,
# pricing.event_schema). Lone surrogates are refused too, but a JSON Schema pattern (an
# ECMA regex, read by Rust's regex in the docs' check) cannot name them.
API_KEY_TEXT = r"^[^\x00]+$"
DEC = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "examples": ["6.000000"]}
NULLABLE_DEC = {"oneOf": [DEC, {"type": "null"}]}
ERROR_CODES = {
    "invalid_request": "The body or a parameter is wrong; `param` names the field.",
    "invalid_api_key": "Unknown, malformed, revoked or expired customer key (or a service token on a customer route).",
    "invalid_service_token": "Missing or unknown service token (or a customer key on a gateway route).",
    "out_of_credits": "A prepaid workspace at or below zero credits.",
    "spend_limit_reached": "The workspace reached its overage limit.",
    "key_spend_limit_reached": "The key reached its spend cap.",
    "rate_limited": "The plan's requests per minute are used up; see Retry-After.",
    "unknown_product": "No price matches the product and there are no gpu_seconds to fall back on.",
    "idempotency_conflict": "The same event id was sent before with a different body.",
    "not_found": "No such object for this key's workspace (or older than its retention).",
    "request_too_large": "The body is over 5 MB.",
    "service_unavailable": "The database is unreachable just now; retry after Retry-After seconds.",
}


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description, *codes, headers=None):
    listed = " ".join(f"`{c}`: {ERROR_CODES[c]}" for c in codes)  # each meaning is a sentence
    response = {
        "description": f"{description} Codes: {listed}",
        "content": {"application/json": {"schema": {
            "allOf": [_ref("Error")],
            "properties": {"error": {"properties": {"code": {"enum": list(codes)}}}},
        }}},
    }
    if headers:
        response["headers"] = headers
    return response


def _ok(description, schema, headers=None):
    response = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _body(schema):
    return {"required": True, "content": {"application/json": {"schema": schema}}}


RATE_HEADERS = {
    name: {"schema": {"type": "string", "pattern": "^[0-9]+$"}, "description": text}
    for name, text in [
        ("X-RateLimit-Limit", "Authorizations allowed in any rolling 60 seconds by the plan. Sent, "
                              "with the two below, on every 200 and 429 of a plan with a rate limit; "
                              "a plan with no limit sends none of the three."),
        ("X-RateLimit-Remaining", "Authorizations left in the rolling minute."),
        ("X-RateLimit-Reset", "Unix time in whole seconds (as GitHub sends it) at which a slot "
                              "next frees up."),
    ]
}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "string", "pattern": "^[0-9]+$"},
                               "description": "Seconds to wait before a slot frees up."}}

ROW = {
    "type": "object",
    "required": ["meter", "unit", "quantity", "unit_price", "cost"],
    "properties": {
        "product": {"type": "string"}, "meter": {"type": "string"}, "unit": {"type": "string"},
        "quantity": DEC, "unit_price": DEC, "cost": DEC,
    },
}

USAGE_RESULT = {
    "type": "object",
    "required": ["id", "billed", "charged", "usd", "breakdown"],
    "properties": {
        "id": {"type": "string"}, "billed": {"type": "boolean"}, "charged": DEC, "usd": DEC,
        "breakdown": {"type": "array", "items": _ref("BreakdownRow")},
        "balance": DEC,
        "not_billed_reason": {"type": "string"},
    },
}

SCHEMAS = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {
            "type": "object", "required": ["code", "message", "param"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                           "param": {"type": ["string", "null"]}},
        }},
    },
    **event_schemas(),  # Quantity, Line, QuoteEvent, UsageEvent: from parse_event's own rules
    "BreakdownRow": ROW,
    "UsageResult": USAGE_RESULT,
    "BatchResult": {"type": "object", "required": ["results"], "properties": {"results": {
        "type": "array", "items": {"oneOf": [_ref("UsageResult"), _ref("Error")]},
        "description": "One per event, in order; an invalid event gets its own error object.",
    }}},
    "Quote": {
        "type": "object", "required": ["product", "billed", "total", "usd", "breakdown"],
        "properties": {
            "product": {"type": "string"}, "billed": {"type": "boolean"}, "total": DEC, "usd": DEC,
            "breakdown": {"type": "array", "items": _ref("BreakdownRow")},
            "not_billed_reason": {"type": "string", "enum": ["client_error", "server_error"]},
        },
    },
    "Price": {
        "type": "object", "required": ["product", "unit", "addons", "segment_seconds", "effective_from"],
        "properties": {
            "product": {"type": "string", "examples": ["document.*"]},
            "unit": {"type": "string", "examples": ["page", "inference_second"]},
            "meter": {"type": "string"}, "description": {"type": "string"},
            "example": {"type": "boolean", "description": "An example rate."},
            "tiers": {"type": "object", "properties": {"lo": DEC, "auto": DEC, "hi": DEC}},
            "rates_by": {"type": "string", "enum": ["instance", "machine"]},
            "rates": {"type": "object", "additionalProperties": DEC},
            "price": DEC,
            "addons": {"type": "object", "additionalProperties": DEC},
            "segment_seconds": {"type": ["integer", "null"]},
            "effective_from": {"type": "string", "format": "date-time"},
        },
    },
    "Prices": {
        "type": "object", "required": ["usd_per_credit", "prices"],
        "properties": {"usd_per_credit": DEC, "prices": {"type": "array", "items": _ref("Price")}},
    },
    "Authorize": {
        "type": "object", "required": ["key_id", "workspace", "plan", "balance", "rate_limit"],
        "properties": {
            "key_id": {"type": "string"}, "workspace": {"type": "string"}, "plan": {"type": "string"},
            "balance": DEC,
            "rate_limit": {"type": "object", "required": ["limit", "remaining", "reset"], "properties": {
                "limit": {"type": ["integer", "null"],
                          "description": "null: the plan has no limit (and no X-RateLimit-* headers are sent)."},
                "remaining": {"type": ["integer", "null"]},
                "reset": {"type": ["string", "null"], "format": "date-time",
                          "description": "X-RateLimit-Reset's moment in ISO 8601 UTC; null without a limit."},
            }},
        },
    },
    "Balance": {
        "type": "object", "required": ["workspace", "plan", "billing_mode", "balance", "forecast"],
        "properties": {
            "workspace": {"type": "string"}, "plan": {"type": "string"},
            "billing_mode": {"type": "string", "enum": ["prepaid", "pay_as_you_go"]},
            "balance": DEC, "included_remaining": NULLABLE_DEC, "overage": NULLABLE_DEC,
            "overage_limit": NULLABLE_DEC,
            "cycle_start": {"type": ["string", "null"]}, "cycle_end": {"type": ["string", "null"]},
            "auto_recharge": {"type": ["object", "null"]},
            "forecast": {
                "type": "object", "required": ["daily_rate", "days_left", "projected_cycle_spend"],
                "description": "daily_rate: the last 7 full days' usage ÷ min(7, days since the first usage); "
                               "days_left: floor((positive balance + overage allowance left) ÷ daily_rate), "
                               "null when the rate is 0; projected_cycle_spend: used this cycle + "
                               "daily_rate × the time left to cycle_end.",
                "properties": {
                    "daily_rate": DEC, "days_left": {"type": ["integer", "null"], "minimum": 0},
                    "projected_cycle_spend": DEC,
                },
            },
        },
    },
    "ReceiptRow": {
        "type": "object",
        "required": ["product", "meter", "unit", "quantity", "unit_price", "cost", "price_version",
                     "effective_from", "formula"],
        "properties": {
            "product": {"type": "string"}, "meter": {"type": "string"}, "unit": {"type": "string"},
            "quantity": DEC, "unit_price": DEC, "cost": DEC,
            "price_version": {"type": ["integer", "null"],
                              "description": "The id of the price version the row used; null if "
                                             "staff have since deleted that version."},
            "effective_from": {"type": ["string", "null"], "format": "date-time",
                               "description": "When that price version took effect."},
            "formula": {"type": "string", "examples": ["3 pages × 2 credits (tier auto) = 6.000000 credits"],
                        "description": "How the cost was computed: quantity × unit price, started "
                                       "segments rounded up, the rounding to the micro-credit."},
        },
    },
    "Receipt": {
        "type": "object",
        "required": ["id", "key_id", "product", "tier", "addons", "quantity", "lines", "status_code",
                     "billed", "not_billed_reason", "not_billed", "breakdown", "charged", "usd",
                     "total", "occurred_at", "charged_at", "metadata"],
        "properties": {
            "id": {"type": "string"}, "key_id": {"type": "string"}, "key_name": {"type": "string"},
            "product": {"type": "string"}, "tier": {"type": ["string", "null"]},
            "addons": {"type": "array", "items": {"type": "string", "enum": ["grounding"]}},
            "quantity": {"type": "object", "additionalProperties": {"type": "string"}},
            "lines": {"type": ["array", "null"], "items": {"type": "object"},
                      "description": "A workflow's lines (product, tier, addons, quantity)."},
            "status_code": {"type": "integer"}, "billed": {"type": "boolean"},
            "not_billed_reason": {"type": ["string", "null"],
                                  "enum": ["client_error", "server_error", "unknown_product", "free", None]},
            "not_billed": {"type": ["string", "null"], "description": "\"not billed: <reason>\" in words."},
            "breakdown": {"type": "array", "items": _ref("ReceiptRow")},
            "charged": DEC, "usd": DEC,
            "total": {**DEC, "description": "The sum of the rows (what `charged` is when billed)."},
            "unpriced": {"type": "boolean"},
            "queue_seconds": {"type": ["string", "null"]},
            "occurred_at": {"type": "string", "format": "date-time"},
            "received_at": {"type": "string", "format": "date-time"},
            "charged_at": {"type": ["string", "null"], "format": "date-time"},
            "metadata": {"type": ["object", "null"], "additionalProperties": {"type": "string"},
                         "description": "null once the plan's metadata retention has passed."},
        },
    },
    "UsageReport": {
        "type": "object", "required": ["rows", "total_credits"],
        "properties": {"rows": {"type": "array", "items": {"type": "object"}}, "total_credits": DEC},
    },
}

CHECK = {"type": "string", "enum": ["ok", "failing"]}
HEALTH = {
    "type": "object", "required": ["status", "checks", "degraded"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "degraded", "error"]},
        "checks": {"type": "object", "required": ["database", "cache", "broker"],
                   "properties": {"database": CHECK, "cache": CHECK, "broker": CHECK}},
        "degraded": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0},
                     "description": "Decisions this process took without Redis, e.g. "
                                    "`authorize_rate_limit_fail_open`."},
    },
}

# A date is exactly YYYY-MM-DD (config.api.date_parse). Across the two dates: start <= end and
# at most MAX_RANGE_DAYS days, which JSON Schema cannot say of two parameters, so the
# description does, and the 400 names `start`.
DATE = {"type": "string", "format": "date", "pattern": DATE_PATTERN}
RANGE_RULE = (f"`start` must be on or before `end`, and the range at most {MAX_RANGE_DAYS} days "
              "(both inclusive); otherwise 400 `invalid_request` naming `start`.")

# Each item of a batch is judged alone: one that is not a valid UsageEvent gets its own error
# in its slot of a 200 answer, and the others are charged. So any item is a valid request.
BATCH_ITEM = {"description": "A UsageEvent. An invalid one gets its own error object in its slot of "
                             "the results; the valid ones are still charged."}

SERVICE = [{"serviceToken": []}]
CUSTOMER = [{"customerKey": []}]

PATHS = {
    "/api/v1/gateway/authorize": {"post": {
        "operationId": "gatewayAuthorize", "tags": ["Gateway"], "security": SERVICE,
        "summary": "Authorize a customer key before an inference request",
        "description": "Checks in order: service token, key (401), rate limit (429), key spend cap (403), "
                       "credits or overage limit (402). If Redis is unreachable the rate limit fails open "
                       "(admits); each such decision is logged and counted in /healthz's `degraded`.",
        "requestBody": _body({"type": "object", "additionalProperties": False, "required": ["api_key"],
                              "properties": {"api_key": {"type": "string", "minLength": 1,
                                                         "pattern": API_KEY_TEXT}}}),
        "responses": {
            "200": _ok("The key's workspace, plan, balance and rate limit.", _ref("Authorize"), RATE_HEADERS),
            "400": _error("Bad body.", "invalid_request"),
            "401": _error("Bad credential.", "invalid_service_token", "invalid_api_key"),
            "402": _error("No credits, or overage limit reached.", "out_of_credits", "spend_limit_reached"),
            "403": _error("The key's spend cap is reached.", "key_spend_limit_reached"),
            "429": _error("Rate limited.", "rate_limited", headers={**RATE_HEADERS, **RETRY_AFTER}),
        },
    }},
    "/api/v1/gateway/usage": {"post": {
        "operationId": "gatewayUsage", "tags": ["Gateway"], "security": SERVICE,
        "summary": "Meter and charge one event or a batch of up to 1000",
        "description": "Idempotent by event id per workspace: a replay returns the first answer; a different body with the same id is 409. Only successful outputs are billed; queue time never is.",
        "requestBody": _body({"oneOf": [
            _ref("UsageEvent"),
            {"type": "object", "additionalProperties": False, "required": ["events"], "properties": {
                "events": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": BATCH_ITEM}}},
        ]}),
        "responses": {
            "200": _ok("The event's charge and breakdown, or one result per event of a batch.",
                       {"oneOf": [_ref("UsageResult"), _ref("BatchResult")]}),
            "400": _error("Bad body: nothing recorded or charged.", "invalid_request"),
            "401": _error("Bad credential or unknown key_id.", "invalid_service_token", "invalid_api_key"),
            "404": _error("No price matches: kept as unpriced for staff, charged once priced.", "unknown_product"),
            "409": _error("Same id, different body.", "idempotency_conflict"),
        },
    }},
    "/api/v1/balance": {"get": {
        "operationId": "balance", "tags": ["Customer"], "security": CUSTOMER,
        "summary": "The key's workspace balance, plan and cycle",
        "responses": {
            "200": _ok("Balance and cycle.", _ref("Balance")),
            "401": _error("Bad credential.", "invalid_api_key"),
        },
    }},
    "/api/v1/usage": {"get": {
        "operationId": "usage", "tags": ["Customer"], "security": CUSTOMER,
        "summary": "Usage of the key's workspace, grouped by day, key or product",
        "description": RANGE_RULE,
        "parameters": [
            {"name": "start", "in": "query", "schema": DATE,
             "description": f"First day, inclusive; default {DEFAULT_RANGE_DAYS - 1} days before `end`."},
            {"name": "end", "in": "query", "schema": DATE, "description": "Last day, inclusive; default today."},
            {"name": "group_by", "in": "query", "schema": {"type": "string", "enum": list(GROUPINGS)},
             "description": "One row per day (the default), per key or per product."},
        ],
        "responses": {
            "200": _ok("Rows and the total.", _ref("UsageReport")),
            "400": _error("Bad parameter.", "invalid_request"),
            "401": _error("Bad credential.", "invalid_api_key"),
        },
    }},
    "/api/v1/usage/events/{id}": {"get": {
        "operationId": "usageEvent", "tags": ["Customer"], "security": CUSTOMER,
        "summary": "The receipt of one usage event of the key's workspace",
        "description": "Served for 13 months after the event on every plan; `metadata` is null once the "
                       "plan's retention has passed. Another workspace's id is 404 like an unknown one.",
        "parameters": [{"name": "id", "in": "path", "required": True,
                        "schema": {"type": "string", "minLength": 1},
                        "description": "The event id the gateway sent (URL-encoded)."}],
        "responses": {
            "200": _ok("The receipt.", _ref("Receipt")),
            "401": _error("Bad credential.", "invalid_api_key"),
            "404": _error("No such event in this workspace, or older than 13 months (the message says "
                          "which).", "not_found"),
        },
    }},
    "/api/v1/prices": {"get": {
        "operationId": "prices", "tags": ["Prices"], "security": [],
        "summary": "Every public price in force, and scheduled changes",
        "responses": {"200": _ok("Credits per unit: tiers, rates or a plain price.", _ref("Prices"))},
    }},
    "/api/v1/prices/quote": {"post": {
        "operationId": "quote", "tags": ["Prices"], "security": CUSTOMER,
        "summary": "What the usage call would charge for an event; charges nothing",
        "requestBody": _body(_ref("QuoteEvent")),
        "responses": {
            "200": _ok("Breakdown and total.", _ref("Quote")),
            "400": _error("Bad body (the field is named).", "invalid_request"),
            "401": _error("Bad credential.", "invalid_api_key"),
            "404": _error("No price matches.", "unknown_product"),
        },
    }},
    "/healthz": {"get": {
        "operationId": "healthz", "tags": ["Operations"], "security": [],
        "summary": "Database, cache and broker answer",
        "description": "503 only when the database fails. A cache or broker failure (Redis down) answers "
                       "200 `degraded`: authorize's rate limit then fails open and sign-in limits count in "
                       "each process's memory; `degraded` counts those decisions per process since it started.",
        "responses": {
            "200": _ok("Healthy, or degraded without the cache or broker.", HEALTH),
            "503": _ok("The database fails.", HEALTH),
        },
    }},
    "/api/v1/ping": {"get": {
        "operationId": "ping", "tags": ["Operations"], "security": [],
        "summary": "A trivial answer touching neither database nor cache",
        "description": "The benchmarks' baseline: what the server, middleware and framework cost alone.",
        "responses": {"200": _ok("Always ok.", {
            "type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}})},
    }},
    "/api/v1/openapi.json": {"get": {
        "operationId": "openapi", "tags": ["Reference"], "security": [],
        "summary": "This API as an OpenAPI 3.1 document",
        "description": "For code generators and API clients; the page at /api/v1/docs is the same document, to read.",
        "responses": {"200": _ok("The document.", {
            "type": "object", "required": ["openapi", "info", "paths"],
            "properties": {"openapi": {"type": "string"}, "info": {"type": "object"},
                           "paths": {"type": "object"}}})},
    }},
}
# Routes answered without the database (no 503 to document).
NO_DATABASE = {"/api/v1/ping", "/api/v1/openapi.json"}

def _example_attach(path, method, operation):
    """Put the route's example (usage.api_examples) where OpenAPI keeps examples."""
    example = EXAMPLES.get((method, path))
    if example is None:
        return
    if "body" in example:
        operation["requestBody"]["content"]["application/json"]["example"] = example["body"]
    for parameter in operation.get("parameters", []):
        value = example.get("query", {}).get(parameter["name"], example.get("params", {}).get(parameter["name"]))
        if value is not None:
            parameter["example"] = value
    answer = operation["responses"]["200"]["content"]["application/json"]
    answer["example"] = example["answer"]


RETRY_HEADER = {"Retry-After": {"schema": {"type": "string", "pattern": "^[0-9]+$"},
                                "description": f"Seconds to wait before retrying ({RETRY_AFTER_SECONDS})."}}
for _path, _methods in PATHS.items():
    for _method, _operation in _methods.items():
        if _path.startswith("/api/") and _path not in NO_DATABASE:  # config.api.json_api
            _operation["responses"]["503"] = _error(
                "The database is unreachable: retry the same request.", "service_unavailable",
                headers=RETRY_HEADER)
        if "requestBody" in _operation:  # config.api.read_json_object
            _operation["responses"]["413"] = _error("The body is too large.", "request_too_large")
        _example_attach(_path, _method, _operation)

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {
        "title": "Meterdesk API",
        "version": "1",
        "description": (
            "JSON in and out. Money and quantities are decimal strings in responses; requests may "
            "send quantities as numbers or decimal strings. 1 credit = USD 0.01. Errors are "
            '{"error": {"code", "message", "param"}}; unknown fields are 400 invalid_request. '
            "Every response carries X-Request-Id."
        ),
    },
    "servers": [{"url": "/"}],
    "tags": [
        {"name": "Gateway", "description": "Called by the inference gateway with a service token."},
        {"name": "Customer", "description": "Called by a customer's program with an API key."},
        {"name": "Prices", "description": "The price catalog and quotes."},
        {"name": "Operations", "description": "Health and the benchmarks' baseline."},
        {"name": "Reference", "description": "This document."},
    ],
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "serviceToken": {"type": "http", "scheme": "bearer",
                             "description": "A gateway token from `manage.py create_service_token`."},
            "customerKey": {"type": "http", "scheme": "bearer",
                            "description": "A customer API key from the API Keys page."},
        },
    },
}


def openapi_document():
    return DOCUMENT


@csrf_exempt  # an undeclared method is 405 (require_GET), not the CSRF check's 403
@require_GET
def openapi_json(request):
    return JsonResponse(openapi_document(), json_dumps_params={"indent": 2})


# The page's two audiences: a customer's programs (an API key, or nothing) and the operators
# of the platform, whose gateway calls with a service token and who watch health.
SECTIONS = (
    ("customer", "Routes for your programs",
     "Called with an API key from the API Keys page (or with none, where it says so).",
     ("Customer", "Prices", "Reference")),
    ("operators", "Gateway and operations routes, for the platform's operators",
     "The inference gateway calls these with a service token (made with manage.py create_service_token), "
     "before and after every inference request; a customer's API key is refused here. Health is for load balancers.",
     ("Gateway", "Operations")),
)
CREDENTIALS = {"serviceToken": "Service token", "customerKey": "Customer API key"}


@require_GET
def api_docs(request):
    """The document as a plain server-rendered page: no CDN, no script."""
    base_url = request.build_absolute_uri("/").rstrip("/")
    operations = [_operation_view(path, method, op, base_url)
                  for path, methods in PATHS.items() for method, op in methods.items()]
    sections = [
        {"id": key, "title": title, "intro": intro,
         "operations": [op for op in operations if op["tag"] in tags]}
        for key, title, intro, tags in SECTIONS
    ]
    schemas = [{"name": name, "rows": _schema_rows(schema)} for name, schema in SCHEMAS.items()]
    return render(request, "usage/api_docs.html", {
        "info": DOCUMENT["info"], "sections": sections, "schemas": schemas,
        "error_codes": [(code, prose(meaning)) for code, meaning in ERROR_CODES.items()],
    })


def prose(text):
    """The document's descriptions are CommonMark, whose only markup here is `code`: on the
    page it becomes <code>, everything else is escaped text."""
    parts = escape(text).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: show the text as it is
        return escape(text)
    return mark_safe("".join(f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts)))


def _operation_view(path, method, op, base_url):
    security = next(iter(op["security"][0]), "") if op["security"] else ""
    body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    return {
        "id": op["operationId"], "method": method.upper(), "path": path, "tag": op["tags"][0],
        "summary": op["summary"], "description": prose(op.get("description", "")),
        "auth": CREDENTIALS.get(security, "No credential"),
        "body": _schema_links(body.get("schema")),
        "parameters": [{"name": p["name"], "in": p["in"], "description": prose(p.get("description", ""))}
                       for p in op.get("parameters", [])],
        "responses": [_response_view(status, r) for status, r in op["responses"].items()],
        "example": _example_view(path, method, security, base_url),
    }


def _response_view(status, response):
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    codes = (schema or {}).get("properties", {}).get("error", {}).get("properties", {}).get("code", {}).get("enum", [])
    return {
        "status": status, "schema": _schema_links(schema),
        "description": prose(response["description"].split(" Codes: ")[0]),
        "codes": [(code, prose(ERROR_CODES[code])) for code in codes],
    }


def _example_view(path, method, security, base_url):
    """The route's example as a curl command and the JSON it answers."""
    example = EXAMPLES.get((method, path))
    if example is None:
        return None
    url = base_url + example.get("path", path)
    if example.get("query"):
        url += "?" + "&".join(f"{name}={value}" for name, value in example["query"].items())
    lines = [f"curl{' -X POST' if method == 'post' else ''} '{url}'"]
    secret = {"serviceToken": "$METERDESK_SERVICE_TOKEN", "customerKey": "$METERDESK_API_KEY"}.get(security)
    if secret:
        lines.append(f'-H "Authorization: Bearer {secret}"')
    if "body" in example:
        lines.append("-H 'Content-Type: application/json'")
        lines.append("-d '" + json.dumps(example["body"], indent=2, ensure_ascii=False) + "'")
    return {
        "request": " \\\n  ".join(lines),
        "status": example.get("status", 200),
        "answer": json.dumps(example["answer"], indent=2, ensure_ascii=False),
    }


def _schema_links(schema):
    """[(text, anchor or None)]: a named schema links to its table below, any other is text."""
    if not schema:
        return []
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return [(name, f"schema-{name}")]
    if "oneOf" in schema:
        return [link for part in schema["oneOf"] for link in (_schema_links(part) or [("object", None)])]
    if "allOf" in schema:
        return _schema_links(schema["allOf"][0])
    if schema.get("type") == "object" and "properties" in schema:
        fields = ", ".join(schema["properties"])
        return [(f"an object with {fields}", None)]
    return [(schema.get("type", "object"), None)]


def _schema_name(schema):
    return " or ".join(text for text, _ in _schema_links(schema)) or None


def _type_text(schema):
    if "$ref" in schema:
        return _schema_name(schema)
    for either in ("oneOf", "anyOf"):
        if either in schema:
            return " or ".join(_type_text(s) for s in schema[either])
    if "enum" in schema:
        return " | ".join(str(v) for v in schema["enum"])
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = " or ".join(kind)
    if kind == "array" and "items" in schema:
        return f"array of {_type_text(schema['items'])}"
    if schema.get("pattern") and kind == "string" and schema is DEC:
        return "decimal string"
    return kind


def _schema_rows(schema):
    required = set(schema.get("required", []))
    return [
        {"name": name, "type": _type_text(prop), "required": name in required,
         "description": prose(prop.get("description", ""))}
        for name, prop in schema.get("properties", {}).items()
    ]
