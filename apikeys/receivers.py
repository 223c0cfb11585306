from django.dispatch import receiver

from teams.signals import member_removal_consequences, member_removed


@receiver(member_removed)
def revoke_removed_members_keys(sender, workspace, user, actor=None, **kwargs):
    # Sent inside the removal transaction: if this fails, the member is not removed.
    from apikeys.services import keys_revoke_for_member

    keys_revoke_for_member(workspace=workspace, user=user, actor=actor)


@receiver(member_removal_consequences)
def removed_members_keys(sender, workspace, user, **kwargs):
    from apikeys.selectors import member_key_consequences

    return member_key_consequences(workspace, user)


def _account_changed(sender, instance, **kwargs):
    from apikeys.keycache import spends_changed

    spends_changed([instance.workspace_id])


def _connect_spend_receivers():
    # A change of a billing account (plan, mode, overage limit; also in the admin) makes
    # authorize's cached spend state of that workspace stale in every process
    # (apikeys.keycache). Credits tell it through billing.credits (see apps.py).
    from django.db.models.signals import post_save

    from billing.models import BillingAccount

    post_save.connect(_account_changed, sender=BillingAccount, dispatch_uid="apikeys-account")


_connect_spend_receivers()
