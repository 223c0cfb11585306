"""The gateway's authorize decision (docs/api.md `POST /api/v1/gateway/authorize`).

Checks in the contract's order, the first failure answering: service token (done by the
route's decorator), key (401), rate limit (429), key spend cap (403), credits or overage
limit (402). A request refused by any check takes no rate-limit slot: the cap and credit
checks are evaluated first (reads only) and the rate-limit script is told whether to take
a slot, so one Redis round trip decides both "429 or not" and "count it or not".
"""

import logging
import time
from dataclasses import dataclass

from django.utils import timezone

from apikeys import keycache
from apikeys.auth import key_record_check, service_token_check
from apikeys.ratelimit import ANY_GENERATION, Decision, ratelimit_hit
from apikeys.selectors import KeyRecord, key_cycle_spend_micro
from apikeys.services import key_touch
from billing.selectors import SpendState, spend_state
from config.api import ApiError
from config.health import AUTHORIZE_FAIL_OPEN, degraded_count

MAX_ATTEMPTS = 3
logger = logging.getLogger("meterdesk.apikeys")


@dataclass(frozen=True)
class Authorization:
    record: KeyRecord
    state: SpendState
    decision: Decision


class RateLimited(ApiError):
    status = 429
    code = "rate_limited"


def reset_epoch(decision: Decision) -> int | None:
    """Unix time in whole seconds (rounded up) at which a slot frees; None without a limit."""
    if decision.limit is None:
        return None
    return -(-decision.reset_ms // 1000)


def ratelimit_headers(decision: Decision) -> dict[str, str]:
    """The X-RateLimit-* headers of every 200 and 429 (GitHub's convention: the reset in
    epoch seconds); a plan with no limit sends none of them."""
    if decision.limit is None:
        return {}
    return {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(max(0, decision.remaining or 0)),
        "X-RateLimit-Reset": str(reset_epoch(decision)),
    }


def reset_iso(decision: Decision) -> str | None:
    """The same moment as X-RateLimit-Reset, as UTC ISO 8601, e.g. 2026-11-23T09:00:00Z."""
    if decision.limit is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(reset_epoch(decision)))


def _pending_refusal(record, state, key_spent_micro):
    if record.spend_cap_micro is not None and key_spent_micro >= record.spend_cap_micro:
        return 403, "key_spend_limit_reached", "This key has reached its spend cap for this billing cycle."
    if state.refusal == "out_of_credits":
        return 402, "out_of_credits", "The workspace is out of credits; buy credits to continue."
    if state.refusal == "spend_limit_reached":
        return 402, "spend_limit_reached", "The workspace has reached its overage limit for this cycle."
    return None


def _spend_now(record, now):
    """(SpendState, key spend this cycle, cached spend version or None)."""
    versions = set()
    state, version = keycache.cache_get("spend", record.workspace_id)
    if state is None:
        read = keycache.spend_version_read(record.workspace_id)  # before the database
        state = spend_state(record.workspace_id)
        keycache.cache_put("spend", record.workspace_id, state, read)
    else:
        versions.add(version)
    spent = 0
    if record.spend_cap_micro is not None:
        spent, version = keycache.cache_get("kspend", record.pk)
        if spent is None:
            read = keycache.spend_version_read(record.workspace_id)
            spent = key_cycle_spend_micro(record.pk, record.workspace_id, now)
            keycache.cache_put("kspend", record.pk, spent, read)
        else:
            versions.add(version)
    return state, spent, versions


def _fail_open_record(record):
    """One log line and one /healthz count per request admitted without its rate limit."""
    count = degraded_count(AUTHORIZE_FAIL_OPEN)
    logger.warning(
        "authorize: Redis is unreachable, so the rate limit failed open for workspace %s "
        "(key %s); %d such decisions in this process", record.workspace_slug, record.public_id, count,
    )


def authorize(*, service_token: str | None, api_key: str | None, token_marker: str | None = None) -> Authorization:
    """Decide one request; returns an Authorization or raises the contract's ApiError."""
    now = timezone.now()
    for attempt in range(MAX_ATTEMPTS):
        if attempt:
            token_marker = service_token_check(service_token)
        record, key_marker = key_record_check(api_key, now)
        markers = {marker for marker in (token_marker, key_marker) if marker is not None}
        state, spent, versions = _spend_now(record, now)
        if len(markers) > 1 or len(versions) > 1:  # filled at different times: one is stale
            keycache.cache_clear()
            continue
        marker = markers.pop() if markers else ANY_GENERATION
        version = versions.pop() if versions else ANY_GENERATION
        refusal = _pending_refusal(record, state, spent)
        decision = ratelimit_hit(
            record.workspace_id, state.requests_per_minute, commit=refusal is None,
            marker=marker, spend_version=version,
        )
        trusted_cache = marker != ANY_GENERATION or version != ANY_GENERATION
        if decision.stale or (trusted_cache and decision.marker is None):
            # Something was revoked or charged since our cache was filled (or Redis cannot
            # tell us): forget everything and decide again from the database.
            keycache.cache_clear()
            continue
        break
    else:  # unreachable: after a clear, answers come from the database and need no check
        raise RuntimeError("authorize could not settle on a revocation marker")
    if decision.failed_open:
        _fail_open_record(record)
    if not decision.allowed:
        headers = ratelimit_headers(decision)
        headers["Retry-After"] = str(decision.retry_after)
        raise RateLimited(
            f"The plan's limit of {decision.limit} requests per minute is used up; "
            f"retry in {decision.retry_after} s.",
            headers=headers,
        )
    if refusal is not None:
        status, code, message = refusal
        raise ApiError(message, status=status, code=code)
    key_touch(record, now)
    return Authorization(record, state, decision)
