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


@shared_task(name="billing.tasks.auto_recharge_run")
def auto_recharge_run(workspace_id):
    """Enqueued by the check after a charge (billing.recharge); decides again under a lock,
    so a second run, or a job for a balance already topped up, opens no attempt."""
    from billing.recharge import recharge_attempt_open

    attempt = recharge_attempt_open(workspace_id)
    if attempt is not None:
        recharge_attempt_charge.delay(attempt.pk)
    return attempt.pk if attempt else None


@shared_task(name="billing.tasks.recharge_attempt_charge", bind=True, max_retries=5)
def recharge_attempt_charge(self, attempt_id):
    """Charge one attempt; Stripe unreachable: retried later with the same idempotency key."""
    from billing.payments import PaymentError
    from billing.recharge import recharge_attempt_charge as charge

    try:
        return charge(attempt_id).status
    except PaymentError as error:
        if not error.transient:
            raise
        raise self.retry(exc=error, countdown=60 * (self.request.retries + 1))


@shared_task(name="billing.tasks.cycle_invoice_collect", bind=True, max_retries=5)
def cycle_invoice_collect(self, cycle_id, how):
    """After a cycle close commits: collect its open invoice (billing.stripe_invoices)."""
    from billing.payments import PaymentError
    from billing.stripe_invoices import cycle_invoice_collect as collect

    try:
        collect(cycle_id=cycle_id, how=how)
    except PaymentError as error:
        if not error.transient:
            raise
        raise self.retry(exc=error, countdown=300 * (self.request.retries + 1))


@shared_task(name="billing.tasks.cards_expiry_notify")
def cards_expiry_notify():
    """Daily (config/celery.py): e-mail owners and admins 30 days before the card expires."""
    from billing.cards import cards_expiry_notify as notify

    return notify()


@shared_task(name="billing.tasks.alerts_check")
def alerts_check(workspace_id):
    """Enqueued after a ledger write that may cross an alert's line (billing.alerts): raises
    the alerts due and re-arms the low-balance alert, under the workspace's lock."""
    from billing.alerts import alerts_check as check

    return [alert.pk for alert in check(workspace_id)]
