from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import User
from teams.models import Membership

SESSION_KEY = "current_workspace_id"
# The token of the invitation this visitor opened while logged out (see teams.adapter).
INVITATION_SESSION_KEY = "opened_invitation"


def current_membership(request: HttpRequest) -> Membership | None:
    """The membership of the logged-in user in their current workspace, or None."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    memberships = Membership.objects.select_related("workspace").filter(user=user)
    wanted = request.session.get(SESSION_KEY)
    membership = memberships.filter(workspace_id=wanted).first() if wanted else None
    if membership is None:
        membership = memberships.order_by("joined_at", "id").first()
        if membership is not None:
            request.session[SESSION_KEY] = membership.workspace_id
    return membership


def user_memberships(user: User) -> QuerySet[Membership]:
    return Membership.objects.select_related("workspace").filter(user=user).order_by(
        "workspace__name"
    )


def team_overview(viewer: Membership) -> dict:
    """What the Team page shows to `viewer` (a Membership): rows with the actions they may take."""
    from teams import permissions
    from teams.models import Invitation, Role

    workspace = viewer.workspace
    members = list(workspace.memberships.select_related("user").order_by("joined_at", "id"))
    owner_count = sum(1 for m in members if m.role == Role.OWNER)
    rows = [
        {
            "membership": m,
            "is_you": m.user_id == viewer.user_id,
            "can_change_role": permissions.can_change_role(viewer, m),
            "can_transfer": permissions.can_transfer_ownership(viewer, m),
            "can_remove": permissions.can_remove(viewer, m, owner_count),
        }
        for m in members
    ]
    invitations = list(
        Invitation.objects.filter(workspace=workspace, accepted_at__isnull=True, cancelled_at__isnull=True)
        .select_related("invited_by")
        .order_by("-created_at")
    )
    return {
        "rows": rows,
        "owner_count": owner_count,
        "invitations": invitations,
        "can_invite": permissions.can_invite(viewer, Role.MEMBER),
        "can_manage_invitations": permissions.can_manage_invitations(viewer),
        "can_rename": permissions.can_rename(viewer),
        "can_leave": permissions.can_leave(viewer, owner_count),
        "role_choices": Role.choices,
    }
