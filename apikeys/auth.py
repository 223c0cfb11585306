"""Bearer authentication for the JSON API: gateway service tokens and customer keys.

Each route accepts only its own kind of credential (docs/api.md "Who calls what"): a customer
key on a gateway route is 401 invalid_service_token, a service token on a customer route
is 401 invalid_api_key. Secrets are compared by looking up their SHA-256 hash (and the
optional METERING_SERVICE_TOKEN with hmac.compare_digest), never with `==` on plaintext.
A malformed secret (wrong prefix, length or checksum) is refused before any query.
"""

import functools
import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from apikeys import keycache
from apikeys.models import APIKey, ServiceToken
from apikeys.secrets_format import (
    KEY_PREFIX,
    SERVICE_TOKEN_PREFIX,
    secret_has_length,
    secret_hash,
    secret_is_well_formed,
)
from apikeys.selectors import KeyRecord, key_record_by_hash
from config.api import ApiError

View = Callable[..., HttpResponse]

BEARER = "bearer "


class InvalidApiKey(ApiError):
    status = 401
    code = "invalid_api_key"

    def __init__(self, message="The API key is unknown, malformed, revoked or expired.", **kw):
        super().__init__(message, **kw)


class InvalidServiceToken(ApiError):
    status = 401
    code = "invalid_service_token"

    def __init__(self, message="The service token is missing, unknown or revoked.", **kw):
        super().__init__(message, **kw)


def bearer_secret(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header[: len(BEARER)].lower() != BEARER:
        return None
    return header[len(BEARER):].strip() or None


# --- Service tokens ------------------------------------------------------------------------


def _settings_token_matches(secret):
    configured = settings.METERING_SERVICE_TOKEN
    if not configured:
        return False
    # Compare digests so the lengths of the two strings do not leak either.
    return hmac.compare_digest(
        hashlib.sha256(secret.encode()).digest(), hashlib.sha256(configured.encode()).digest()
    )


def service_token_check(secret: str | None) -> str | None:
    """Raise InvalidServiceToken unless `secret` is a live service token.

    Returns the revocation marker when the answer came from the per-process cache (the
    caller must confirm it is still current), or None when it came from the database.
    """
    if not secret:
        raise InvalidServiceToken()
    if _settings_token_matches(secret):
        return None
    if not secret_has_length(secret, SERVICE_TOKEN_PREFIX):
        raise InvalidServiceToken()
    digest = secret_hash(secret)
    cached, cached_marker = keycache.cache_get("svc", digest)
    if cached:  # only a well-formed secret was ever cached: no need to check its shape again
        return cached_marker
    if not secret_is_well_formed(secret, SERVICE_TOKEN_PREFIX):
        raise InvalidServiceToken()
    marker = keycache.marker_read()  # read before the database, see apikeys.keycache
    if not ServiceToken.objects.filter(token_hash=digest, revoked_at__isnull=True).exists():
        raise InvalidServiceToken()
    keycache.cache_put("svc", digest, True, marker)
    return None


def service_token_required(view: View) -> View:
    """Gateway routes: only a live service token passes. Use under @json_api."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        request.service_token_marker = service_token_check(bearer_secret(request))
        return view(request, *args, **kwargs)

    return wrapper


# --- Customer keys -------------------------------------------------------------------------


def key_record_check(secret: str | None, now: datetime | None = None) -> tuple[KeyRecord, str | None]:
    """(KeyRecord, cached marker or None) for a usable key, else InvalidApiKey.

    A marker is returned when the record came from the per-process cache: the caller must
    confirm it is current (the rate-limit script does) before trusting the answer.
    """
    if not secret_has_length(secret, KEY_PREFIX):
        raise InvalidApiKey()
    digest = secret_hash(secret)
    record, cached_marker = keycache.cache_get("key", digest)
    if record is None:
        # Checked only on a miss: every cached entry was filled from a well-formed secret,
        # and no other string has its hash, so a hit needs no second check.
        if not secret_is_well_formed(secret, KEY_PREFIX):
            raise InvalidApiKey()
        marker = keycache.marker_read()  # read before the database, see apikeys.keycache
        record = key_record_by_hash(digest)
        if record is None:
            raise InvalidApiKey()
        keycache.cache_put("key", digest, record, marker)
    if record.refusal(now or timezone.now()):
        raise InvalidApiKey()
    return record, cached_marker


def api_key_required(view: View) -> View:
    """Customer routes: a live customer key passes; sets request.api_key and request.workspace.

    Always asks the database (these routes are not on the hot path), so a revoked key is
    refused at once. Use under @json_api.
    """

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        secret = bearer_secret(request)
        if not secret_is_well_formed(secret, KEY_PREFIX):
            raise InvalidApiKey()
        key = (
            APIKey.objects.active()
            .select_related("workspace")
            .filter(key_hash=secret_hash(secret))
            .first()
        )
        if key is None:
            raise InvalidApiKey()
        request.api_key = key
        request.workspace = key.workspace
        return view(request, *args, **kwargs)

    return wrapper
