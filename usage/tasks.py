"""Celery tasks of the usage app: thin wrappers around usage.rollup and usage.partitions
(safe to run twice), and the pages' way to ask for a roll-up."""

import logging

from celery import shared_task
from django.core.cache import cache
from django.db import DatabaseError
from django.utils import timezone

from usage.partitions import partitions_ensure

from usage.rollup import rollup_run, usage_purge

log = logging.getLogger("meterdesk.usage")
STALE_AFTER = 60


@shared_task(autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=5)
def rollup_usage(full: bool = False) -> dict:
    """Beat runs this every 10 minutes: roll up touched days, then apply retention."""
    days = rollup_run(full=full)
    deleted, cleared = usage_purge()
    return {"days": days, "events_deleted": deleted, "metadata_cleared": cleared}


@shared_task(autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=5)
def usage_partitions_ensure() -> list[str]:
    """Beat runs this daily: on PostgreSQL, the events partitions of this month and the next
    three exist before any event needs them (nothing to do on SQLite)."""
    made = partitions_ensure(now=timezone.now())
    if made:
        log.info("Usage event partitions made: %s", ", ".join(made))
    return made


def rollup_if_stale() -> None:
    """Pages call this so charts are never more than about a minute behind.

    It enqueues the Celery task (at most once a minute, whatever the traffic) for the
    worker: Redis's in production, the var/ folder broker under `make run`.
    """
    if cache.add("usage:rollup:requested", 1, STALE_AFTER):
        try:
            rollup_usage.delay()
        except Exception:
            # A page must still render when the broker or the job fails; the job's own
            # failure is logged and retried by Celery.
            log.exception("Could not run the usage roll-up")


@shared_task(autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=5)
def usage_spikes_detect() -> int:
    """Daily (config/celery.py): bring the roll-ups up to date, then e-mail yesterday's usage
    spikes (usage.spikes; once per workspace and day, so a second run sends nothing)."""
    from usage.spikes import spikes_detect

    rollup_run()
    return len(spikes_detect())
