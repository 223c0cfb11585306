"""JSON routes of the price catalog: the public price list and the customer's quote.

Views only read input, check the credential and call one function (pricing.catalog,
pricing.quote); the quote is price_event(), the same function the usage call charges with.
"""

from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from apikeys.auth import api_key_required
from config.api import json_api, read_json_object, require_method
from pricing.catalog import catalog_current, now, prices_payload
from pricing.events import parse_event
from pricing.quote import price_event, quote_payload


@json_api
@never_cache
def prices(request):
    """GET /api/v1/prices: every public price in force, and scheduled changes. No key needed."""
    require_method(request, "GET")
    return JsonResponse(prices_payload(catalog_current(), at=now()))


@json_api
@api_key_required
def prices_quote(request):
    """POST /api/v1/prices/quote: what the usage call would charge for this event; charges nothing."""
    require_method(request, "POST")
    event = parse_event(read_json_object(request), gateway=False)
    quote = price_event(event, workspace=request.workspace)
    return JsonResponse({"product": event.product, **quote_payload(quote)})
