"""Counters of the decisions this process took in a degraded mode, shown by /healthz.

When Redis is unreachable the service keeps working in a lesser way: authorize's rate
limit admits (fails open) and the sign-in rate limits count in process memory. Each such
decision is counted here, per process since it started (the shared store is the thing that
is down), so an operator sees on /healthz how much was decided without Redis.
"""

import logging
import threading
from collections import Counter

# The names /healthz always shows (0 until something happens), so its shape is stable.
AUTHORIZE_FAIL_OPEN = "authorize_rate_limit_fail_open"
CACHE_LOCAL_FALLBACK = "cache_local_fallback"
KNOWN = (AUTHORIZE_FAIL_OPEN, CACHE_LOCAL_FALLBACK)

_counts = Counter()
_lock = threading.Lock()


def degraded_count(name: str) -> int:
    """Count one degraded decision under `name`; returns the process's total for it."""
    with _lock:
        _counts[name] += 1
        return _counts[name]


def degraded_counts() -> dict[str, int]:
    with _lock:
        return {**dict.fromkeys(KNOWN, 0), **_counts}


def _database_check():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _cache_check():
    from django.core.cache import cache

    cache.set("healthz", "ok", 5)
    if cache.get("healthz") != "ok":
        raise RuntimeError("the cache did not keep a value")


def _broker_check():
    from django.conf import settings

    from config.celery import app

    with app.connection_for_write(url=settings.CELERY_BROKER_URL, connect_timeout=0.5) as connection:
        connection.ensure_connection(max_retries=0, timeout=0.5)


CHECKS = {"database": _database_check, "cache": _cache_check, "broker": _broker_check}


def health_checks() -> dict[str, str]:
    """{"database"|"cache"|"broker": "ok" or "failing"}; the reason of a failure is logged,
    never shown (/healthz is public)."""
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as error:  # one line, no traceback: a balancer asks every few seconds
            logging.getLogger("meterdesk.health").warning(
                "healthz: the %s check failed: %s: %s", name, type(error).__name__, error)
            results[name] = "failing"
    return results
