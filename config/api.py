"""The JSON conventions of docs/api.md shared by every API route.

Routes raise ApiError (or a subclass) anywhere below them; @json_api turns it into the
contract's error shape: {"error": {"code", "message", "param"}} with the right status.
"""

import functools
import json

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt


class ApiError(Exception):
    status = 400
    code = "invalid_request"

    def __init__(self, message, param=None, *, status=None, code=None, headers=None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.status = status or self.status
        self.code = code or self.code
        self.headers = headers or {}


class InvalidRequest(ApiError):
    status = 400
    code = "invalid_request"


def json_response(body, status=200):
    """JsonResponse's bytes for plain JSON (str, numbers, bool, None, lists, dicts), without
    its encoder subclass and per-call setup: for the gateway's routes, called on every
    inference request."""
    return HttpResponse(json.dumps(body), content_type="application/json", status=status)


def api_error(status, code, message, param=None, headers=None):
    response = json_response({"error": {"code": code, "message": message, "param": param}}, status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def json_api(view):
    """Mark a view as a JSON API route: no CSRF (bearer auth), ApiError -> error JSON."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except ApiError as error:
            return api_error(error.status, error.code, error.message, error.param, error.headers)

    return wrapper


def read_json_object(request, *, max_bytes=5 * 1024 * 1024):
    """The request body as a dict, or InvalidRequest saying what is wrong with it."""
    body = request.body
    if len(body) > max_bytes:
        raise InvalidRequest(f"The body is larger than {max_bytes // (1024 * 1024)} MB.")
    body = body or b"null"
    try:
        # What json.loads does with bytes, minus building a new decoder on every call.
        data = _DECODER.decode(body.decode(json.detect_encoding(body), "surrogatepass"))
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("The body is not valid JSON.")
    if not isinstance(data, dict):
        raise InvalidRequest("The body must be a JSON object.")
    return data


def _refuse(constant):
    # NaN, Infinity and -Infinity are not JSON numbers; never let them reach money.
    raise ValueError(constant)


# Decimals stay strings until a route parses them (never a binary float).
_DECODER = json.JSONDecoder(parse_float=str, parse_constant=_refuse)


def reject_unknown_fields(data, allowed, prefix=""):
    for name in data:
        if name not in allowed:
            raise InvalidRequest(f"Unknown field {prefix}{name!r}.", param=f"{prefix}{name}")


def require_method(request, method):
    """405 with an Allow header unless the request uses `method`."""
    if request.method != method:
        raise ApiError(
            f"Use {method} on this route.", status=405, code="method_not_allowed",
            headers={"Allow": method},
        )
