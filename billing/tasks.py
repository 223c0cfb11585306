"""Celery tasks: thin wrappers that call services (safe to run twice)."""

from celery import shared_task

from billing.closing import CycleCloseFailed, cycles_close_due


@shared_task(
    name="billing.tasks.close_due_cycles",
    autoretry_for=(CycleCloseFailed,), retry_backoff=60, max_retries=5,
)
def close_due_cycles():
    """Hourly (config/celery.py): close every billing cycle that has ended."""
    return len(cycles_close_due())
