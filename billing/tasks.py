"""Celery tasks: thin wrappers that call services (safe to run twice)."""

from celery import shared_task

from billing.closing import CycleCloseFailed, close_due_cycles as cycles_close


@shared_task(
    name="billing.tasks.close_due_cycles",
    autoretry_for=(CycleCloseFailed,), retry_backoff=60, max_retries=5,
)
def close_due_cycles():
    """Hourly (config/celery.py): close every billing cycle that has ended."""
    return len(cycles_close())


@shared_task(name="billing.tasks.cards_expiry_notify")
def cards_expiry_notify():
    """Daily (config/celery.py): e-mail owners and admins 30 days before the card expires."""
    from billing.cards import cards_expiry_notify as notify

    return notify()
