"""The JSON conventions of docs/api.md shared by every API route.

Routes raise ApiError (or a subclass) anywhere below them; @json_api turns it into the
contract's error shape: {"error": {"code", "message", "param"}} with the right status.
"""

import functools
import json
import logging
import re
from datetime import date, timezone as dt_timezone
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt

logger = logging.getLogger("meterdesk.api")


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


# The database is down, unreachable, restarting or refused a serialization: the same
# request may well pass in a moment, so say so (503 + Retry-After) instead of a bare 500.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5


def database_unavailable_response():
    """503 service_unavailable with Retry-After: the gateway's cue to retry the request."""
    return api_error(
        503, "service_unavailable",
        "The service cannot reach its database just now; retry the request in a few seconds.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def json_api(view):
    """Mark a view as a JSON API route: no CSRF (bearer auth), ApiError -> error JSON,
    an unavailable database -> 503 with Retry-After."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except ApiError as error:
            return api_error(error.status, error.code, error.message, error.param, error.headers)
        except DATABASE_UNAVAILABLE:
            logger.exception("Database unavailable on %s %s", request.method, request.path)
            return database_unavailable_response()

    return wrapper


def read_json_object(request, *, items=None):
    """The request body as a dict, or an ApiError saying what is wrong with it.

    Every JSON route reads its body here, so every route gives the same answers: over
    DATA_UPLOAD_MAX_MEMORY_SIZE is 413 request_too_large; not UTF-8, not JSON, nested too
    deep to parse or not an object is 400; so is any string, key or value, anywhere in it
    that holds a NUL or a lone surrogate (text_check). `items` names a list field whose
    items the route validates one by one (a usage batch), text included, so one bad item
    gets its own error rather than refusing the body.
    """
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        body = request.body  # Django refuses a Content-Length over the limit before reading
    except RequestDataTooBig:
        body = None
    if body is None or len(body) > limit:
        raise ApiError(
            f"The body is larger than {_size_text(limit)}, the limit of every route.",
            status=413, code="request_too_large",
        )
    body = body or b"null"
    try:
        # Strict UTF-8 (or the UTF-16/32 JSON allows): a lone surrogate can then only
        # arrive as a \u escape, which the scan below finds.
        text = body.decode(json.detect_encoding(body))
    except (UnicodeDecodeError, LookupError):
        raise InvalidRequest("The body is not UTF-8 text.")
    try:
        # What json.loads does, minus building a new decoder on every call.
        data = _DECODER.decode(text)
    except RecursionError:
        raise InvalidRequest("The body is nested too deeply to read.")
    except ValueError:
        raise InvalidRequest("The body is not valid JSON.")
    if not isinstance(data, dict):
        raise InvalidRequest("The body must be a JSON object.")
    if "\\u" in text and _UNSAFE_ESCAPE.search(text):
        # Only a body with a \u0000 or \uD800-\uDFFF escape can hold unsafe text: the
        # common body skips the walk.
        json_text_check({k: v for k, v in data.items() if k != items})
    return data


def _size_text(size):
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size} bytes"


def _refuse(constant):
    # NaN, Infinity and -Infinity are not JSON numbers; never let them reach money.
    raise ValueError(constant)


# A JSON number with a fraction or an exponent becomes the exact Decimal of its digits, never
# a binary float (and stays apart from a string of the same digits).
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_refuse)
_UNSAFE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


# --- Text and time: one validation for every route ----------------------------------------

# NUL: PostgreSQL text cannot hold it (SQLite would, so the backends would disagree). A lone
# surrogate (half of a UTF-16 pair): no encoder can write it, to a database, a hash or a log.
_UNSAFE_TEXT = re.compile("[\x00\ud800-\udfff]")


def text_is_safe(value):
    return "\x00" not in value and (value.isascii() or not _UNSAFE_TEXT.search(value))


def text_check(value, param):
    """`value` unchanged, or InvalidRequest naming `param` when it holds a NUL or a lone
    surrogate. For every string a route keeps, hashes, looks up or echoes."""
    if not text_is_safe(value):
        raise InvalidRequest(
            f"{param or 'The body'} holds a NUL character or a lone surrogate (half of a "
            "UTF-16 pair); send text as valid Unicode without NUL.",
            param=param,
        )
    return value


def json_text_check(data, prefix=""):
    """text_check on every key and string of a JSON value, naming the first bad one's path
    (a bad key names the object holding it). Iterative: any depth that parsed is fine."""
    pending = [(data, prefix.rstrip("."))]
    while pending:
        value, path = pending.pop()
        if isinstance(value, str):
            text_check(value, path or None)
        elif isinstance(value, dict):
            for name, item in value.items():
                text_check(name, path or None)
                pending.append((item, f"{path}.{name}" if path else name))
        elif isinstance(value, list):
            pending.extend((item, f"{path}[{i}]") for i, item in enumerate(value))


# RFC 3339's date-time (OpenAPI's "date-time"): a zone is required, seconds too.
TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_TIMESTAMP = re.compile(TIMESTAMP_PATTERN)


def timestamp_parse(value, param):
    """An aware UTC datetime from RFC 3339 text (e.g. 2026-11-23T09:00:00Z); InvalidRequest
    naming `param` otherwise, also for a time whose UTC equivalent falls outside years
    1-9999 or one the calendar has not (February 30th, a leap second)."""
    if isinstance(value, str) and _TIMESTAMP.fullmatch(value):
        try:
            parsed = parse_datetime(value if value.isupper() else value.upper())  # t, z allowed
            if parsed is not None and parsed.tzinfo is not None:
                return parsed.astimezone(dt_timezone.utc)
        except (ValueError, OverflowError):
            pass
    raise InvalidRequest(
        f"{param} must be an RFC 3339 time with a zone between years 1 and 9999 UTC, "
        "e.g. 2026-11-23T09:00:00Z.",
        param=param,
    )


DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"  # RFC 3339's full-date, OpenAPI's "date"
_DATE = re.compile(DATE_PATTERN)


def date_parse(value, param):
    """A date from YYYY-MM-DD text (nothing else: not empty, not 20261101); InvalidRequest
    naming `param` otherwise."""
    try:
        if isinstance(value, str) and _DATE.fullmatch(value):  # ($ alone would allow a final \n)
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise InvalidRequest(f"{param} must be a date like 2026-11-01.", param=param)


def reject_unknown_fields(data, allowed, prefix=""):
    for name in data:
        if name not in allowed:
            text_check(name, prefix.rstrip(".") or None)  # never echo bad text in `param`
            raise InvalidRequest(f"Unknown field {prefix}{name!r}.", param=f"{prefix}{name}")


def require_method(request, method):
    """405 with an Allow header unless the request uses `method`."""
    if request.method != method:
        raise ApiError(
            f"Use {method} on this route.", status=405, code="method_not_allowed",
            headers={"Allow": method},
        )
