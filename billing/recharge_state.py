"""Auto-recharge state that payments and refunds change: the per-process copy of a
workspace's threshold, turning auto-recharge off, and a failed attempt.

Kept apart from billing.recharge (settings and the job), which calls Stripe through
billing.fulfil: billing.fulfil and billing.refunds use these without an import circle.
"""

from django.db import transaction
from django.utils import timezone

from billing.mails import billing_problem_mail
from billing.models import AutoRecharge, RechargeAttempt, RechargeStatus
from billing.money import MICRO
from config.ttlcache import TtlCache

THRESHOLD_TTL = 30  # seconds a process trusts its copy of a workspace's threshold
# (threshold_micro or None when off,): a tuple, since the cache never keeps a bare None.
_thresholds: TtlCache[tuple[int | None]] = TtlCache(ttl_seconds=THRESHOLD_TTL)


def _threshold_load(workspace_id):
    credits = (
        AutoRecharge.objects.filter(workspace_id=workspace_id, enabled=True)
        .values_list("threshold_credits", flat=True).first()
    )
    return (None if credits is None else credits * MICRO,)


def threshold_micro(workspace_id: int) -> int | None:
    """The workspace's threshold in micro-credits, None when auto-recharge is off (cached)."""
    return _thresholds.get(workspace_id, load=lambda: _threshold_load(workspace_id))[0]


def threshold_forget(workspace_id: int) -> None:
    """Settings changed: this process reads them again (others within THRESHOLD_TTL)."""
    _thresholds.forget(workspace_id)


def auto_recharge_disable(*, workspace, reason: str) -> bool:
    """Turn it off and say why (a decline, a dispute); True when it was on."""
    workspace_id = getattr(workspace, "pk", workspace)
    changed = AutoRecharge.objects.filter(workspace_id=workspace_id, enabled=True).update(
        enabled=False, disabled_reason=reason[:300], updated_at=timezone.now(),
    )
    _thresholds.forget(workspace_id)
    return bool(changed)


def recharge_attempt_id(intent):
    raw = (intent.get("metadata") or {}).get("attempt") or ""
    return int(raw) if raw.isdigit() else None


def recharge_intent_failed(*, workspace, intent, reason: str) -> None:
    """payment_intent.payment_failed of an auto-recharge still pending (a slow decline)."""
    attempt = RechargeAttempt.objects.filter(workspace=workspace, pk=recharge_attempt_id(intent)).first()
    if attempt is not None:
        recharge_fail(attempt_id=attempt.pk, reason=reason, payment_intent_id=intent["id"])


def recharge_fail(*, attempt_id: int, reason: str, payment_intent_id: str = "") -> None:
    """A declined or unauthenticated recharge: the attempt fails, auto-recharge turns off with
    the reason, and owners and admins are e-mailed a link to fix it (once per attempt)."""
    with transaction.atomic():
        attempt = RechargeAttempt.objects.select_for_update().select_related("workspace").get(pk=attempt_id)
        if attempt.status != RechargeStatus.PENDING:
            return
        attempt.status = RechargeStatus.FAILED
        attempt.error = reason[:300]
        attempt.payment_intent_id = payment_intent_id or attempt.payment_intent_id
        attempt.finished_at = timezone.now()
        attempt.save()
        auto_recharge_disable(workspace=attempt.workspace_id, reason=f"A recharge failed: {reason}")
        billing_problem_mail(workspace=attempt.workspace, subject="Auto-recharge is off",
                             template="recharge_failed", context={"attempt": attempt})
