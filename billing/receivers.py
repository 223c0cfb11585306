from django.dispatch import receiver

from teams.signals import workspace_created


@receiver(workspace_created)
def open_billing_account(sender, workspace, owner, **kwargs):
    from billing.services import billing_account_open

    billing_account_open(workspace=workspace)
