"""A small per-process cache whose entries live a fixed time: for lookups on hot paths.

Use it only for values where being up to `ttl_seconds` old is harmless (a key's workspace
never changes; a cycle start moves once a month), or that the code changing them clears
(`forget`/`clear`; in tests `ttl_caches_clear`). Anything that must change at once on every
process (revocations, balances, retention) is not kept here.
"""

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar
from weakref import WeakSet

V = TypeVar("V")

_all: "WeakSet[TtlCache]" = WeakSet()


class TtlCache(Generic[V]):
    """`get(key, load=...)`: the cached value, else `load()`, kept `ttl_seconds`.

    None is never cached (a missing row is asked again). When `max_entries` is reached the
    whole cache is dropped: cheaper than an LRU's bookkeeping, and refilled in a minute.
    """

    def __init__(self, *, ttl_seconds: float, max_entries: int = 50_000) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[V, float]] = {}
        self._lock = threading.Lock()
        _all.add(self)

    def get(self, key: Hashable, *, load: Callable[[], V | None]) -> V | None:
        hit = self._entries.get(key)
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            return hit[0]
        value = load()
        if value is not None:
            with self._lock:
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
                self._entries[key] = (value, now + self.ttl_seconds)
        return value

    def forget(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def ttl_caches_clear() -> None:
    """Empty every TtlCache of this process (tests, between cases)."""
    for cache in list(_all):
        cache.clear()
