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
