"""Billing writes: opening accounts, cycles, plan changes. Money moves only via billing.ledger."""

from django.db import transaction
from django.utils import timezone

from billing.ledger import shards_create
from billing.models import BillingAccount, BillingCycle, Plan
from billing.cycles import cycle_bounds

DEFAULT_PLAN = "starter"


@transaction.atomic
def billing_account_open(*, workspace, plan_code=DEFAULT_PLAN, now=None):
    """Give a new workspace its billing account, balance shards and first cycle."""
    now = now or timezone.now()
    plan = Plan.objects.get(code=plan_code)
    account, created = BillingAccount.objects.get_or_create(
        workspace=workspace,
        defaults={"plan": plan, "cycle_anchor_day": now.day, "overage_limit": plan.default_overage_limit},
    )
    shards_create(workspace)
    start, end = cycle_bounds(account.cycle_anchor_day, now)
    BillingCycle.objects.get_or_create(
        workspace=workspace, start=start, defaults={"end": end, "plan": account.plan}
    )
    return account
