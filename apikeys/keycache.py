"""A per-process cache of looked-up keys and service tokens, made safe by a shared marker.

Every web process keeps the keys it has seen for up to a minute, so authorize does not
ask the database each time. Each entry remembers the revocation marker (a random string
in Redis) as it was read *before* the database was asked. Revoking anything sets a new
marker right away and again after the revoke commits, before the revoke returns; the
rate-limit script hands back the current marker with every decision, so a process whose
entry was filled under an old marker throws its cache away and asks the database again.
That is how "refused from the moment the revoke returns, on every process" holds with a
warm cache and without an extra round trip.

Without Redis (REDIS_URL unset, or Redis down) there is no shared marker, so nothing is
served from this cache: every lookup goes to the database.
"""

import threading
import time
import uuid

from django.conf import settings
from django.db import transaction

from apikeys.ratelimit import (
    GENERATION_KEY,
    SPEND_VERSION_KEY,
    RedisUnavailable,
    redis_call,
    redis_direct,
)

TTL_SECONDS = 60
# Spend states (balance, plan, a key's spend this cycle) are cached per workspace under its
# spend version, which every committed ledger write (billing.credits), key spend and billing
# account change bumps (spends_changed). Changes that bump nothing (a plan edited in the admin) are seen after this.
SPEND_TTL_SECONDS = 5
MAX_ENTRIES = 50_000
MARKER_TTL_SECONDS = 7 * 24 * 3600

_entries = {}
_lock = threading.Lock()


def cache_enabled():
    return bool(settings.REDIS_URL)


def marker_read():
    """The current shared marker, or None when it cannot be read (then do not cache)."""
    if not cache_enabled():
        return None
    try:
        value = redis_call(lambda client: client.get(GENERATION_KEY))
    except RedisUnavailable:
        return None
    return value.decode() if value is not None else "0"


def _marker_set():
    if not cache_enabled():
        return
    try:
        redis_call(
            lambda client: client.set(GENERATION_KEY, uuid.uuid4().hex, ex=MARKER_TTL_SECONDS)
        )
    except RedisUnavailable:
        # Other processes keep their entries for at most TTL_SECONDS; say so loudly.
        import logging

        logging.getLogger("meterdesk.apikeys").error(
            "Could not publish a key revocation to Redis; cached copies expire within %ss.",
            TTL_SECONDS,
        )


def revocation_publish():
    """Call when a key or token stops being valid: invalidates every process's cache.

    The marker changes now (so nothing cached earlier is trusted any more) and again once
    the transaction commits (so an entry another process loaded from the database between
    the two, when the revoke was not yet visible, is dropped too). Both happen before the
    outermost atomic block, and so the revoke, returns.
    """
    cache_clear()
    _marker_set()
    transaction.on_commit(_marker_set)


def spend_version_read(workspace_id):
    """The workspace's spend version, or None when it cannot be read (then do not cache)."""
    if not cache_enabled():
        return None
    try:
        value = redis_call(lambda client: client.get(SPEND_VERSION_KEY.format(workspace_id=workspace_id)))
    except RedisUnavailable:
        return None
    return value.decode() if value is not None else "0"


def _spend_versions_bump(workspace_ids):
    """One Redis round trip that bumps every given workspace's spend version."""
    commands = []
    for workspace_id in workspace_ids:
        key = SPEND_VERSION_KEY.format(workspace_id=workspace_id)
        commands += [("INCR", key), ("EXPIRE", key, MARKER_TTL_SECONDS)]

    def talk(_client, connection):
        connection.send_packed_command(connection.pack_commands(commands))
        return [connection.read_response() for _ in commands]

    try:
        redis_direct(talk)
    except RedisUnavailable:
        pass  # cached spend states then live for at most SPEND_TTL_SECONDS


def spends_changed(workspace_ids):
    """Call when workspaces' balance, plan or key spend changed: caches everywhere reload.

    The one path by which authorize's cached spend states learn of a change (credits through
    `spend_states_credits_changed`, key spends through apikeys.services, billing accounts
    through apikeys.receivers). The versions are bumped once the transaction commits (at
    once in autocommit), in one Redis round trip: an entry cached before the bump carries
    the old version and is dropped at its next use, also one another process filled from
    the database before the commit, so nothing stale is served once the write returns.
    """
    workspace_ids = sorted(set(workspace_ids))
    if cache_enabled() and workspace_ids:
        transaction.on_commit(lambda: _spend_versions_bump(workspace_ids))


def spend_states_credits_changed(*, balances):
    """billing.credits listener: a committed ledger write changed these workspaces' balances."""
    if cache_enabled():
        _spend_versions_bump(sorted(balances))


def cache_get(namespace, digest):
    """(value, marker) cached for a digest, or (None, None)."""
    entry = _entries.get((namespace, digest))
    if entry is None:
        return None, None
    value, marker, stored = entry
    ttl = SPEND_TTL_SECONDS if namespace in ("spend", "kspend") else TTL_SECONDS
    if time.monotonic() - stored > ttl:
        _entries.pop((namespace, digest), None)
        return None, None
    return value, marker


def cache_put(namespace, digest, value, marker):
    if marker is None:
        return
    with _lock:
        if len(_entries) >= MAX_ENTRIES:
            _entries.clear()
        _entries[(namespace, digest)] = (value, marker, time.monotonic())


def cache_forget(namespace, digest):
    _entries.pop((namespace, digest), None)


def cache_clear():
    with _lock:
        _entries.clear()
