from teams.selectors import user_memberships


def workspace(request):
    """The current workspace, the user's role in it, and the switcher's list."""
    membership = getattr(request, "membership", None)
    if not membership:
        return {}
    return {
        "workspace": membership.workspace,
        "membership": membership,
        "all_memberships": lambda: user_memberships(request.user),
    }
