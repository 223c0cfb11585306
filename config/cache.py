"""The Redis cache, with a per-process fallback for the keys that can live without Redis.

Django's RedisCache raises when Redis is unreachable. For most keys that is right (the
price catalog's version stamp, for one, must be shared or not used at all, and its caller
falls back to the database). Rate-limit counters are different: a limit counted in this
process's memory is weaker than a shared one but far better than none, and far better than
refusing to sign anybody in (allauth's login limits read the cache on every attempt). So
keys under LOCAL_FALLBACK_PREFIXES are kept in a local-memory cache while Redis is away:
each such operation is logged (at most once per 10 s) and counted in config.health.
"""

import logging
import time

import redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache

from config.health import CACHE_LOCAL_FALLBACK, degraded_count

logger = logging.getLogger("meterdesk.cache")

LOCAL_FALLBACK_PREFIXES = (
    "allauth:rl:",  # allauth's rate limits (sign-in, sign-up, password reset) and their locks
    "usage:rollup:",  # "a roll-up was asked for this minute": pages ask at most once a minute
)
UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
RETRY_AFTER_SECONDS = 5  # after a failure, fallback keys skip Redis for this long


def cache_settings(*, redis_url: str | None, key_prefix: str) -> dict:
    """settings.CACHES["default"]: Redis with the fallback when a URL is set, else the
    in-process cache of the embedded set-up."""
    if not redis_url:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    return {
        "BACKEND": "config.cache.RedisCacheWithLocalFallback",
        "LOCATION": redis_url,
        "KEY_PREFIX": key_prefix,
        # A dead Redis must cost a page well under a second, not a hung worker.
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1},
    }


# Per process, not per cache object: Django makes one cache object per thread.
_outage = {"down_until": 0.0, "logged_at": 0.0}


class RedisCacheWithLocalFallback(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        # LocMemCache objects of one name share one store, so every thread sees the same counts.
        self._local = LocMemCache(f"redis-fallback:{server}", {"TIMEOUT": params.get("TIMEOUT", 300)})

    def _try(self, key, method, *args, **kwargs):
        """Redis' answer, or for a fallback key while Redis is unreachable the local one."""
        if not key.startswith(LOCAL_FALLBACK_PREFIXES):
            return getattr(super(), method)(key, *args, **kwargs)
        if time.monotonic() >= _outage["down_until"]:
            try:
                return getattr(super(), method)(key, *args, **kwargs)
            except UNREACHABLE as error:
                _outage["down_until"] = time.monotonic() + RETRY_AFTER_SECONDS
                _log(error)
        degraded_count(CACHE_LOCAL_FALLBACK)
        return getattr(self._local, method)(key, *args, **kwargs)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._try(key, "add", value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._try(key, "get", default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._try(key, "set", value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._try(key, "touch", timeout, version)

    def delete(self, key, version=None):
        return self._try(key, "delete", version)

    def has_key(self, key, version=None):
        return self._try(key, "has_key", version)

    def incr(self, key, delta=1, version=None):
        return self._try(key, "incr", delta, version)

    def clear(self):
        self._local.clear()
        return super().clear()


def fallback_forget() -> None:
    """Forget the outage and the counts kept without Redis (tests that point at a dead one)."""
    _outage.update(down_until=0.0, logged_at=0.0)
    from django.core.cache import caches

    local = getattr(caches["default"], "_local", None)
    if local is not None:
        local.clear()


def _log(error):
    now = time.monotonic()
    if now - _outage["logged_at"] > 10:  # one line per 10 s per process, not one per call
        _outage["logged_at"] = now
        logger.warning("Redis is unreachable; rate-limit counters are kept in this process: %s", error)
