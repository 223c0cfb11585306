"""Reads of billing state that other apps need (authorize, the balance API, pages)."""

from dataclasses import dataclass

from billing.ledger import workspace_balance
from billing.models import BillingAccount
from billing.money import MICRO


@dataclass(frozen=True)
class SpendState:
    plan_code: str
    requests_per_minute: int | None  # None: no rate limit
    balance_micro: int
    refusal: str | None  # None, "out_of_credits" or "spend_limit_reached"


def spend_refusal(account, balance_micro):
    """The one "may this workspace spend?" rule: None when it may, else the error code.

    Prepaid workspaces may spend while their balance is above zero. Workspaces that may
    overspend (pro, enterprise, pay-as-you-go) may go below zero down to their overage limit.
    """
    if not account.may_overspend:
        return None if balance_micro > 0 else "out_of_credits"
    limit = account.overage_limit
    if limit is None:
        limit = account.plan.default_overage_limit
    if limit is None:
        return None
    return None if balance_micro > -limit * MICRO else "spend_limit_reached"


def spend_state(workspace_id):
    account = BillingAccount.objects.select_related("plan").get(workspace_id=workspace_id)
    balance = workspace_balance(workspace_id)
    return SpendState(
        plan_code=account.plan.code,
        requests_per_minute=account.requests_per_minute,
        balance_micro=balance,
        refusal=spend_refusal(account, balance),
    )
