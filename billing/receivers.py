from functools import partial

from allauth.account.signals import email_confirmed
from django.db import transaction
from django.dispatch import receiver

from billing.closing import cycle_invoice_opened
from teams.signals import workspace_created


@receiver(workspace_created)
def open_billing_account(sender, workspace, owner, **kwargs):
    from billing.services import billing_account_open, signup_bonus_on_workspace_created

    billing_account_open(workspace=workspace)
    signup_bonus_on_workspace_created(owner)


@receiver(email_confirmed)
def give_signup_bonus(sender, request=None, email_address=None, **kwargs):
    """The 100-credit sign-up bonus arrives when the user proves their address (docs/design.md:
    once per verified user, on their first workspace, so workspaces cannot be farmed)."""
    from billing.services import signup_bonus_grant

    signup_bonus_grant(email_address.user)


def auto_recharge_listener(*, balances):
    """A billing.credits listener (after every committed ledger write, on the usage hot path):
    a balance below its workspace's threshold enqueues one recharge job; never Stripe here."""
    from billing.recharge import recharge_due
    from billing.tasks import auto_recharge_run

    for workspace_id, balance_micro in balances.items():
        if recharge_due(workspace_id=workspace_id, balance_micro=balance_micro):
            transaction.on_commit(partial(auto_recharge_run.delay, workspace_id))


def alerts_listener(*, balances):
    """A billing.credits listener: a balance that may raise (or re-arm) a low-balance, zero
    or overage alert enqueues one check (billing.alerts decides under a lock, in the job)."""
    from billing.alerts import workspaces_to_check
    from billing.tasks import alerts_check

    for workspace_id in workspaces_to_check(balances):
        transaction.on_commit(partial(alerts_check.delay, workspace_id))


@receiver(cycle_invoice_opened)
def collect_cycle_invoice(sender, cycle_id, how, **kwargs):
    """After the close commits: charge or invoice its open invoice (billing.stripe_invoices)."""
    from billing.tasks import cycle_invoice_collect

    transaction.on_commit(partial(cycle_invoice_collect.delay, cycle_id, how))
