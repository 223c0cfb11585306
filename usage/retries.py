"""Doing a database write again after a deadlock or a serialization failure."""

import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError

RETRIES = 4
T = TypeVar("T")


def with_retries(work: Callable[[], T]) -> T:
    """work(), again after a deadlock or serialization failure (nothing was written then)."""
    for attempt in range(RETRIES):
        try:
            return work()
        except OperationalError as error:
            if attempt == RETRIES - 1 or not _is_retryable(error):
                raise
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


def _is_retryable(error: OperationalError) -> bool:
    code = getattr(getattr(error, "__cause__", None), "sqlstate", None)
    return code in ("40P01", "40001") or "database is locked" in str(error)
