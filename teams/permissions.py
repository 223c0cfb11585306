"""docs/design.md "Who may do what", the team rows, written once.

Services call these under row locks before changing anything; the Team page calls them to
show only the actions the viewer may take. Each takes Membership objects.
"""

from teams.models import Role


def can_invite(actor, role):
    """Owners and admins invite members and admins; only owners invite owners."""
    if role == Role.OWNER:
        return actor.role == Role.OWNER
    return actor.is_manager


def can_manage_invitations(actor):
    """Resend or cancel any invitation."""
    return actor.is_manager


def can_change_role(actor, target):
    """Owners change other people's roles; nobody changes (grants) their own."""
    return actor.role == Role.OWNER and actor.user_id != target.user_id


def can_transfer_ownership(actor, target):
    return actor.role == Role.OWNER and target.role != Role.OWNER and actor.user_id != target.user_id


def can_remove(actor, target, owner_count):
    """Owners and admins remove members; only owners remove admins and owners; never the last owner."""
    if actor.user_id == target.user_id:
        return False  # leaving is its own action
    if target.role == Role.OWNER and owner_count <= 1:
        return False
    if target.role == Role.MEMBER:
        return actor.is_manager
    return actor.role == Role.OWNER


def can_leave(membership, owner_count):
    return not (membership.role == Role.OWNER and owner_count <= 1)


def can_rename(actor):
    return actor.is_manager
