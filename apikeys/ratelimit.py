"""Plan rate limits: at most N authorizations in any rolling 60 seconds per workspace.

With settings.REDIS_URL the limit is a sliding log in a Redis sorted set, checked and
written by one Lua script, so every web process shares one exact count and two requests
can never both take the last slot. Timestamps come from Redis' own clock (TIME), so the
processes' clocks do not matter. Every key the script writes gets a PEXPIRE.

The same script reads the shared revocation marker (see apikeys.keycache), so checking
"is my cached key still good?" costs no extra round trip.

Without REDIS_URL the log is kept in this process (the embedded single-process set-up).
If Redis is unreachable, the limiter fails open: the request is allowed (the Decision says
failed_open; authorize logs and counts each one), and callers stop trusting their caches
for that request. Credits never depend on Redis.
"""

import itertools
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from django.conf import settings

if TYPE_CHECKING:
    import redis

T = TypeVar("T")

logger = logging.getLogger("meterdesk.apikeys")

WINDOW_MS = 60_000
LOG_KEY = "md:rl:{workspace_id}"
GENERATION_KEY = "md:apikeys:gen"
SPEND_VERSION_KEY = "md:sv:{workspace_id}"
ANY_GENERATION = "*"

# KEYS[1]: the workspace's sliding log; KEYS[2]: the revocation marker; KEYS[3]: the
# workspace's spend version (bumped by every charge and ledger row).
# ARGV: window ms, limit (-1: none), unique member suffix, expected marker ("*": any),
#       commit ("1": take a slot when allowed; "0": only say whether one is free),
#       expected spend version ("*": any).
# Returns {status, remaining, reset_ms, now_ms, marker}; status 1 allowed, 0 limited,
# -1 marker or spend version changed (nothing counted).
SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local marker = redis.call('GET', KEYS[2]) or '0'
if ARGV[4] ~= '*' and ARGV[4] ~= marker then
  return {-1, 0, 0, now, marker}
end
if ARGV[6] ~= '*' and ARGV[6] ~= (redis.call('GET', KEYS[3]) or '0') then
  return {-1, 0, 0, now, marker}
end
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
if limit < 0 then
  return {1, -1, now + window, now, marker}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local oldest = now
if count > 0 then
  oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
end
if count >= limit then
  return {0, 0, oldest + window, now, marker}
end
if ARGV[5] == '1' then
  redis.call('ZADD', KEYS[1], now, now .. ':' .. ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  count = count + 1
end
return {1, limit - count, oldest + window, now, marker}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int | None  # None: the plan has no limit
    remaining: int | None
    reset_ms: int  # epoch milliseconds at which a slot next frees up
    now_ms: int
    marker: str | None  # the shared revocation marker; None when it could not be read
    stale: bool = False  # the caller's expected marker is out of date; nothing was counted
    failed_open: bool = False  # Redis was unreachable: admitted without counting a limit

    @property
    def retry_after(self):
        """Whole seconds until a refused request may succeed (at least 1)."""
        return max(1, math.ceil((self.reset_ms - self.now_ms) / 1000))


class RedisUnavailable(Exception):
    pass


_clients = {}
_client_lock = threading.Lock()
_members = itertools.count()
_last_failure_log = 0.0


def redis_client() -> "redis.Redis | None":
    """One client (and connection pool) per process and URL; None without REDIS_URL."""
    url = settings.REDIS_URL
    if not url:
        return None
    client = _clients.get(url)
    if client is None:
        import redis

        with _client_lock:
            client = _clients.get(url)
            if client is None:
                # Short timeouts: a dead Redis must cost authorize milliseconds, not seconds.
                client = redis.Redis.from_url(
                    url, socket_timeout=0.25, socket_connect_timeout=0.25, health_check_interval=30
                )
                client._md_script = client.register_script(SCRIPT)
                _clients[url] = client
    return client


def _log_failure(error):
    global _last_failure_log
    now = time.monotonic()
    if now - _last_failure_log > 10:  # one line per 10 s per process, not one per request
        _last_failure_log = now
        logger.warning("Redis is unreachable; rate limits fail open: %s", error)


def redis_call(fn: Callable[["redis.Redis"], T]) -> T:
    """Run fn(client); RedisUnavailable when Redis errs (logged, throttled)."""
    import redis

    client = redis_client()
    try:
        return fn(client)
    except redis.exceptions.RedisError as error:
        _log_failure(error)
        raise RedisUnavailable(str(error)) from error


_thread = threading.local()


def _own_connection(client):
    """This thread's own connection to `client`'s server (made lazily, again after a fork).

    Made from the pool's settings but outside its count: the pool's make_connection counts
    every connection it ever made against max_connections (100) and never forgets one, so
    after 100 threads had come and gone (a test's 50 concurrent charges, twice) every new
    thread's authorize failed with "Too many connections". A thread's connection closes
    when the thread ends and its thread-local is collected."""
    url, pid = settings.REDIS_URL, os.getpid()
    held = getattr(_thread, "held", None)
    if held is None or held[0] != url or held[1] != pid:
        pool = client.connection_pool
        held = _thread.held = (url, pid, pool.connection_class(**pool.connection_kwargs))
    return held[2]


def redis_direct(talk: Callable[..., T]) -> T:
    """talk(client, connection) on this thread's own connection; RedisUnavailable on error.

    For the hot paths (authorize's script, the usage call's spend-version bump): the pool's
    checkout and return, the retry wrapper and pipeline objects together cost about as much
    as Redis' own work, so commands go straight down one connection only this thread uses.
    A connection Redis closed while it sat idle gets one fresh try; a timeout does not (a
    slow Redis must cost milliseconds, not seconds).
    """
    import redis

    client = redis_client()
    connection = _own_connection(client)
    try:
        try:
            return talk(client, connection)
        except redis.exceptions.ConnectionError:
            connection.disconnect()
            return talk(client, connection)
    except redis.exceptions.RedisError as error:
        connection.disconnect()
        _log_failure(error)
        raise RedisUnavailable(str(error)) from error


def _script_run(keys, args):
    """EVALSHA of SCRIPT (see redis_direct)."""

    def talk(client, connection):
        import redis

        command = connection.pack_command("EVALSHA", client._md_script.sha, len(keys), *keys, *args)
        try:
            connection.send_packed_command(command, check_health=False)
            return connection.read_response()
        except redis.exceptions.NoScriptError:  # a restarted or flushed Redis forgot it
            client.script_load(SCRIPT)
            connection.send_packed_command(command, check_health=False)
            return connection.read_response()

    return redis_direct(talk)


def ratelimit_hit(
    workspace_id: int, limit: int | None, *, commit: bool = True, marker: str = ANY_GENERATION,
    spend_version: str = ANY_GENERATION, window_ms: int = WINDOW_MS,
) -> Decision:
    """Decide one request of a workspace against `limit` per rolling window.

    commit=False asks without taking a slot (the request will be refused for another
    reason, and refused requests do not count). `marker` is the revocation marker the
    caller's cache was filled under, `spend_version` the workspace's spend version its cached
    spend state was read under; when either changed, the answer is stale and nothing counts.
    """
    if settings.REDIS_URL:
        try:
            return _redis_hit(workspace_id, limit, commit, marker, spend_version, window_ms)
        except RedisUnavailable:
            now = int(time.time() * 1000)
            return Decision(True, limit, limit, now + window_ms, now, None, failed_open=limit is not None)
    return _local_hit(workspace_id, limit, commit, window_ms)


def _redis_hit(workspace_id, limit, commit, marker, spend_version, window_ms):
    member = f"{os.getpid()}.{next(_members)}"
    args = [window_ms, -1 if limit is None else limit, member, marker, "1" if commit else "0",
            spend_version]
    keys = [LOG_KEY.format(workspace_id=workspace_id), GENERATION_KEY,
            SPEND_VERSION_KEY.format(workspace_id=workspace_id)]
    status, remaining, reset_ms, now_ms, current = _script_run(keys, args)
    current = current.decode() if isinstance(current, bytes) else str(current)
    if status == -1:
        return Decision(False, limit, None, reset_ms, now_ms, current, stale=True)
    return Decision(
        status == 1, limit, None if limit is None else remaining, reset_ms, now_ms, current
    )


# --- In-process fallback --------------------------------------------------------------------
_local_logs = {}
_local_lock = threading.Lock()


def _local_hit(workspace_id, limit, commit, window_ms):
    now = int(time.time() * 1000)
    if limit is None:
        return Decision(True, None, None, now + window_ms, now, None)
    with _local_lock:
        log = _local_logs.setdefault(workspace_id, deque())
        while log and log[0] <= now - window_ms:
            log.popleft()
        oldest = log[0] if log else now
        if len(log) >= limit:
            return Decision(False, limit, 0, oldest + window_ms, now, None)
        if commit:
            log.append(now)
        return Decision(True, limit, limit - len(log), oldest + window_ms, now, None)


def ratelimit_reset_local() -> None:
    """Forget the in-process logs (tests; Redis logs are cleared with the Redis DB)."""
    with _local_lock:
        _local_logs.clear()
