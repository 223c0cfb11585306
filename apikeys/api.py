"""JSON routes of this app: the gateway's authorize call."""

from apikeys.auth import bearer_secret, service_token_required
from apikeys.gateway import authorize, ratelimit_headers, reset_iso
from billing.money import format_credits
from config.api import (
    InvalidRequest,
    json_api,
    json_response,
    read_json_object,
    reject_unknown_fields,
    require_method,
    text_check,
)


@json_api
@service_token_required
def gateway_authorize(request):
    require_method(request, "POST")
    data = read_json_object(request)
    reject_unknown_fields(data, {"api_key"})
    api_key = data.get("api_key")
    if not isinstance(api_key, str) or not api_key:
        raise InvalidRequest("api_key is required: the customer's secret key, a string.", "api_key")
    text_check(api_key, "api_key")
    result = authorize(
        service_token=bearer_secret(request),
        api_key=api_key,
        token_marker=request.service_token_marker,
    )
    decision = result.decision
    body = {
        "key_id": result.record.public_id,
        "workspace": result.record.workspace_slug,
        "plan": result.state.plan_code,
        "balance": format_credits(result.state.balance_micro),
        "rate_limit": {
            "limit": decision.limit,
            "remaining": decision.remaining,
            "reset": reset_iso(decision),
        },
    }
    response = json_response(body)
    for name, value in ratelimit_headers(decision).items():
        response[name] = value
    return response
