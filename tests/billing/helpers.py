"""Billing test helpers: put a workspace on a plan with its first cycle at a chosen time."""

from datetime import datetime, timezone as dt_timezone

from billing.cycles import cycle_bounds
from billing.ledger import credits_charge, ledger_post, workspace_balance, ledger_sum
from billing.models import BillingAccount, BillingCycle, EntryKind, Plan
from billing.money import MICRO
from billing.cycles import cycle_open


def utc(*args):
    return datetime(*args, tzinfo=dt_timezone.utc)


def start_on(workspace, *, plan="starter", anchor_day, start, **terms):
    """Restart `workspace`'s billing: `plan` (set as staff would), first cycle at `start`."""
    BillingCycle.objects.filter(workspace=workspace).delete()
    account = BillingAccount.objects.get(workspace=workspace)
    account.plan = Plan.objects.get(code=plan)
    account.cycle_anchor_day = anchor_day
    account.overage_limit = account.plan.default_overage_limit
    for name, value in terms.items():
        setattr(account, name, value)
    account.save()
    _, end = cycle_bounds(anchor_day, start)
    return cycle_open(account=account, start=start, end=end)


def charge(workspace, credits, reference, at=None):
    from billing.ledger import ledger_post as post

    return post(workspace=workspace, kind=EntryKind.USAGE, amount_micro=-int(credits * MICRO),
                reference=reference, at=at)


def buy(workspace, credits, reference, at=None):
    return ledger_post(workspace=workspace, kind=EntryKind.PURCHASE, amount_micro=int(credits * MICRO),
                       reference=reference, at=at)


def balance(workspace):
    value = workspace_balance(workspace.pk)
    assert value == ledger_sum(workspace.pk), "shards and ledger disagree"
    return value


__all__ = ["utc", "start_on", "charge", "buy", "balance", "credits_charge", "MICRO"]
