"""Celery tasks of the usage app: thin wrappers around usage.rollup (safe to run twice)."""

from celery import shared_task
from django.db import DatabaseError

from usage.rollup import rollup_run, usage_purge


@shared_task(autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=5)
def rollup_usage(full=False):
    """Beat runs this every 10 minutes: roll up touched days, then apply retention."""
    days = rollup_run(full=full)
    deleted, cleared = usage_purge()
    return {"days": days, "events_deleted": deleted, "metadata_cleared": cleared}
