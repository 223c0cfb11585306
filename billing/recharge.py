"""Auto-recharge of prepaid workspaces: settings, the check after every ledger write, the job.

The check runs on the gateway's hot path (credits_changed, after each charge commits), so it
reads a per-process copy of the threshold and, when the balance is below it, enqueues the
job at most once per QUEUED_FOR seconds (an atomic cache add). The job decides under a row
lock: one pending attempt per workspace, at most `monthly_cap` attempts per UTC month. The
attempt row is saved before Stripe is called; its id is the idempotency key.
"""

from datetime import timedelta

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from billing.fulfil import PaymentRejected, auto_recharge_fulfil
from billing.ledger import workspace_balance
from billing.models import AutoRecharge, BillingAccount, RechargeAttempt, RechargeStatus
from billing.models_plans import RECHARGE_MAX_CREDITS, RECHARGE_MAX_MONTHLY_CAP, RECHARGE_MIN_CREDITS
from billing.money import MICRO
from billing.recharge_state import recharge_fail, threshold_forget, threshold_micro
from billing.selectors import workspace_has_saved_card
from billing.services import BillingError, _require_manager

QUEUED_FOR = 60  # seconds one enqueued job stands for every later crossing of the threshold
STALE_PENDING = timedelta(minutes=10)  # a pending attempt this old is driven again (same key)

def _queued_key(workspace_id):
    return f"auto-recharge:queued:{workspace_id}"


def recharge_due(*, workspace_id: int, balance_micro: int) -> bool:
    """Should a recharge job be enqueued now? True at most once a minute per workspace whose
    balance is below its threshold (an atomic cache add). No query while the threshold is
    cached; the job itself decides under a lock."""
    threshold = threshold_micro(workspace_id)
    if threshold is None or balance_micro >= threshold:
        return False
    return cache.add(_queued_key(workspace_id), 1, QUEUED_FOR)


# --- settings ------------------------------------------------------------------------------


def auto_recharge_get(workspace_id: int) -> AutoRecharge | None:
    return AutoRecharge.objects.filter(workspace_id=workspace_id).first()


def auto_recharge_set(
    *, workspace, actor, enabled: bool, threshold_credits: int, amount_credits: int, monthly_cap: int,
) -> AutoRecharge:
    """Owners and admins of a prepaid workspace with a saved card turn it on; anyone may
    turn it off. Amounts are whole credits (USD 0.01)."""
    _require_manager(workspace, actor)
    if not RECHARGE_MIN_CREDITS <= amount_credits <= RECHARGE_MAX_CREDITS:
        raise BillingError("The recharge amount must be between USD 5 and USD 10,000 (500 to 1,000,000 credits).")
    if not 0 <= threshold_credits <= RECHARGE_MAX_CREDITS:
        raise BillingError("The threshold must be between 0 and 1,000,000 credits.")
    if not 1 <= monthly_cap <= RECHARGE_MAX_MONTHLY_CAP:
        raise BillingError(f"Allow between 1 and {RECHARGE_MAX_MONTHLY_CAP} recharges a month.")
    with transaction.atomic():
        account = BillingAccount.objects.select_for_update().select_related("plan").get(workspace_id=workspace.pk)
        if enabled and account.may_overspend:
            raise BillingError(
                "Auto-recharge is for prepaid workspaces; this one bills usage past its credits instead."
            )
        if enabled and not workspace_has_saved_card(workspace):
            raise BillingError("Save a card first: auto-recharge charges your saved card.")
        settings, _ = AutoRecharge.objects.update_or_create(
            workspace=workspace,
            defaults={
                "enabled": enabled, "threshold_credits": threshold_credits,
                "amount_credits": amount_credits, "monthly_cap": monthly_cap,
                # Turning it on again (after fixing the card) clears the old reason.
                **({"disabled_reason": ""} if enabled else {}),
            },
        )
    threshold_forget(workspace.pk)
    cache.delete(_queued_key(workspace.pk))
    return settings


def recharges_this_month(workspace_id: int, now=None) -> int:
    month = (now or timezone.now()).date().replace(day=1)
    return RechargeAttempt.objects.filter(workspace_id=workspace_id, month=month).count()


# --- the job -------------------------------------------------------------------------------


def recharge_attempt_open(workspace_id: int, now=None) -> RechargeAttempt | None:
    """Under the settings row's lock: the attempt to charge now, or None (nothing due).

    A pending attempt older than STALE_PENDING (a worker died mid-call) is returned again;
    charging it again reuses its idempotency key, so Stripe charges once.
    """
    now = now or timezone.now()
    with transaction.atomic():
        settings = AutoRecharge.objects.select_for_update().filter(workspace_id=workspace_id, enabled=True).first()
        if settings is None:
            return None
        pending = RechargeAttempt.objects.filter(workspace_id=workspace_id, status=RechargeStatus.PENDING).first()
        if pending is not None:
            return pending if pending.created_at < now - STALE_PENDING else None
        account = BillingAccount.objects.select_related("plan").get(workspace_id=workspace_id)
        if account.may_overspend:
            return None
        if workspace_balance(workspace_id) >= settings.threshold_credits * MICRO:
            return None
        done = recharges_this_month(workspace_id, now)
        if done >= settings.monthly_cap:
            return None
        return RechargeAttempt.objects.create(
            workspace_id=workspace_id, month=now.date().replace(day=1), sequence=done + 1,
            amount_credits=settings.amount_credits, created_at=now,
        )


def auto_recharge_run(workspace_id: int, *, now=None) -> RechargeAttempt | None:
    """The recharge job in one call (tests, commands): open an attempt if one is due, charge it."""
    attempt = recharge_attempt_open(workspace_id, now)
    if attempt is None:
        return None
    return recharge_attempt_charge(attempt.pk)


def recharge_attempt_charge(attempt_id: int) -> RechargeAttempt:
    """Charge the saved card off-session for one pending attempt; its key makes a retry safe.

    A transient PaymentError (Stripe unreachable) propagates, so the task retries with the
    same key; a decline or a card that needs authentication fails the attempt for good.
    """
    from billing import payments
    from billing.cards import customer_for, workspace_card

    attempt = RechargeAttempt.objects.select_related("workspace").get(pk=attempt_id)
    if attempt.status != RechargeStatus.PENDING:
        return attempt
    workspace = attempt.workspace
    card = workspace_card(workspace)
    if card is None:
        recharge_fail(attempt_id=attempt.pk, reason="There is no saved card to charge.")
        return _reload(attempt)
    try:
        intent = payments.payment_intent_off_session_create(
            customer_id=customer_for(workspace).stripe_id, payment_method_id=card.stripe_id,
            amount_cents=attempt.amount_credits, idempotency_key=attempt.idempotency_key,
            metadata={"kind": "auto_recharge", "workspace": workspace.slug,
                      "credits": str(attempt.amount_credits), "attempt": str(attempt.pk)},
        )
    except payments.PaymentError as error:
        if error.transient:
            raise
        recharge_fail(attempt_id=attempt.pk, reason=str(error))
        return _reload(attempt)
    RechargeAttempt.objects.filter(pk=attempt.pk).update(payment_intent_id=intent["id"])
    if intent.get("status") == "succeeded":
        try:
            auto_recharge_fulfil(workspace=workspace, intent=intent)
        except PaymentRejected as error:
            recharge_fail(attempt_id=attempt.pk, reason=str(error), payment_intent_id=intent["id"])
    # Otherwise (processing) payment_intent.succeeded or .payment_failed finishes it.
    return _reload(attempt)


def _reload(attempt):
    return RechargeAttempt.objects.get(pk=attempt.pk)


