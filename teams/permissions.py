"""docs/design.md "Who may do what", the team rows, written once.

Services call these under row locks before changing anything; the Team page calls them to
show only the actions the viewer may take. Each takes Membership objects.
"""

from teams.models import Membership, Role


def can_invite(actor: Membership, role: str) -> bool:
    """Owners and admins invite members and admins; only owners invite owners."""
    if role == Role.OWNER:
        return actor.role == Role.OWNER
    return actor.is_manager


def can_manage_invitations(actor: Membership) -> bool:
    """Resend or cancel any invitation."""
    return actor.is_manager


def can_change_role(actor: Membership, target: Membership) -> bool:
    """Owners change other people's roles; nobody changes (grants) their own."""
    return actor.role == Role.OWNER and actor.user_id != target.user_id


def can_transfer_ownership(actor: Membership, target: Membership) -> bool:
    return actor.role == Role.OWNER and target.role != Role.OWNER and actor.user_id != target.user_id


def can_remove(actor: Membership, target: Membership, owner_count: int) -> bool:
    """Owners and admins remove members; only owners remove admins and owners; never the last owner."""
    if actor.user_id == target.user_id:
        return False  # leaving is its own action
    if target.role == Role.OWNER and owner_count <= 1:
        return False
    if target.role == Role.MEMBER:
        return actor.is_manager
    return actor.role == Role.OWNER


def can_leave(membership: Membership, owner_count: int) -> bool:
    return not (membership.role == Role.OWNER and owner_count <= 1)


def can_rename(actor: Membership) -> bool:
    return actor.is_manager
