from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.adapter import default_workspace_name
from teams.models import Membership
from teams.selectors import SESSION_KEY
from teams.services import workspace_create


def _safe_next(request, fallback="/"):
    target = request.POST.get("next") or fallback
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return fallback


@login_required
@require_POST
def workspace_switch(request):
    membership = get_object_or_404(
        Membership.objects.select_related("workspace"),
        user=request.user,
        workspace__slug=request.POST.get("workspace", ""),
    )
    request.session[SESSION_KEY] = membership.workspace_id
    messages.success(request, f"Switched to {membership.workspace.name}.")
    return redirect(_safe_next(request))


@login_required
@require_POST
def workspace_new(request):
    name = (request.POST.get("name") or "").strip() or default_workspace_name(request.user.email)
    workspace = workspace_create(owner=request.user, name=name[:80])
    request.session[SESSION_KEY] = workspace.id
    messages.success(request, f"Created {workspace.name}. You are its owner.")
    return redirect("dashboard")
