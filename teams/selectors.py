from teams.models import Membership

SESSION_KEY = "current_workspace_id"


def current_membership(request):
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


def user_memberships(user):
    return Membership.objects.select_related("workspace").filter(user=user).order_by(
        "workspace__name"
    )
