"""Access to workspace pages. Every page view that belongs to a workspace uses one of these.

They look the workspace up through the logged-in user's membership (request.membership),
so another tenant's objects are never reachable: views then fetch objects through
request.workspace (`request.workspace.api_keys.get(pk=...)`), making a foreign id a 404.
"""

import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect


def workspace_required(view):
    @login_required
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.membership:
            messages.info(request, "You are not in a workspace yet. Create one to continue.")
            return redirect("dashboard")
        return view(request, *args, **kwargs)

    return wrapper


def manager_required(view):
    """Owners and admins only (docs/design.md "Who may do what"); others get 403."""

    @workspace_required
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.membership.is_manager:
            raise PermissionDenied("Only owners and admins can do this.")
        return view(request, *args, **kwargs)

    return wrapper
