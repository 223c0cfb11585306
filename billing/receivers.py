from allauth.account.signals import email_confirmed
from django.dispatch import receiver

from teams.signals import workspace_created


@receiver(workspace_created)
def open_billing_account(sender, workspace, owner, **kwargs):
    from billing.services import billing_account_open

    billing_account_open(workspace=workspace)


@receiver(email_confirmed)
def give_signup_bonus(sender, request=None, email_address=None, **kwargs):
    """The 100-credit sign-up bonus arrives when the user proves their address (docs/design.md:
    once per verified user, on their first workspace, so workspaces cannot be farmed)."""
    from billing.services import signup_bonus_grant

    signup_bonus_grant(email_address.user)
