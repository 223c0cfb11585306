"""JSON routes of the price catalog: the public price list and the customer's quote.

Views only read input, check the credential and call one function (usage.catalog,
usage.pricing); the quote is price_event(), the same function the usage call charges with.
"""

from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from apikeys.auth import api_key_required
from config.api import ApiError, json_api, read_json_object
from usage.catalog import catalog_current, now, prices_payload
from usage.events import parse_event
from usage.pricing import price_event, quote_payload


def _require(request, method):
    if request.method != method:
        raise ApiError(f"Use {method} on this route.", status=405, code="method_not_allowed",
                       headers={"Allow": method})


@json_api
@never_cache
def prices(request):
    """GET /api/v1/prices: every public price in force, and scheduled changes. No key needed."""
    _require(request, "GET")
    return JsonResponse(prices_payload(catalog_current(), at=now()))


@json_api
@api_key_required
def prices_quote(request):
    """POST /api/v1/prices/quote: what the usage call would charge for this event; charges nothing."""
    _require(request, "POST")
    event = parse_event(read_json_object(request), gateway=False)
    quote = price_event(event, workspace=request.workspace)
    return JsonResponse({"product": event.product, **quote_payload(quote)})
