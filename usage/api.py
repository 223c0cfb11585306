"""JSON routes of the usage app owned by metering: the gateway's usage call, usage, balance.

Views only read input, check the credential and call one function (usage.services,
usage.reports, billing.selectors).
"""

from django.http import JsonResponse

from apikeys.auth import api_key_required, service_token_required
from config.api import ApiError, json_api, json_response, read_json_object, require_method
from usage.forecast import balance_with_forecast
from usage.receipts import ReceiptNotFound, event_receipt
from usage.reports import usage_query, usage_query_params
from usage.services import usage_body_parse, usage_record, usage_record_batch


@json_api
@service_token_required
def gateway_usage(request):
    require_method(request, "POST")
    form, payload = usage_body_parse(read_json_object(request, items="events"))
    if form == "batch":
        results = usage_record_batch(payload)
        return json_response({"results": [result.body for result in results]})
    result = usage_record(payload)
    return json_response(result.body, status=result.status)


@json_api
@api_key_required
def usage_list(request):
    require_method(request, "GET")
    params = usage_query_params(request.GET)
    return JsonResponse(usage_query(request.workspace, **params))


@json_api
@api_key_required
def usage_event(request, id):  # noqa: A002 (the route's {id}, as docs/api.md writes it)
    """The receipt of one usage event of the key's workspace (docs/api.md)."""
    require_method(request, "GET")
    try:
        return JsonResponse(event_receipt(request.workspace, id))
    except ReceiptNotFound as missing:
        raise ApiError(str(missing), "id", status=404, code="not_found") from None


@json_api
@api_key_required
def balance(request):
    require_method(request, "GET")
    return JsonResponse(balance_with_forecast(request.workspace))
