from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from config.flash import refusal_flashed
from teams import permissions, services
from teams.decorators import workspace_required
from teams.forms import InviteForm, RenameForm
from teams.models import Membership, Role
from teams.selectors import INVITATION_SESSION_KEY, SESSION_KEY, team_overview
from teams.services import default_workspace_name, workspace_create


def _safe_next(request, fallback="/"):
    target = request.POST.get("next") or fallback
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return fallback


def _base_url(request):
    return request.build_absolute_uri("/")


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
@require_http_methods(["GET", "POST"])
def workspace_new(request):
    """"New workspace" in the switcher: a name (empty: "Ada's workspace"), then the new
    workspace's dashboard, with the person as its owner."""
    if request.method == "GET":
        return render(request, "teams/workspace_new.html", {
            "default_name": default_workspace_name(request.user.email),
        })
    name = (request.POST.get("name") or "").strip() or default_workspace_name(request.user.email)
    workspace = workspace_create(owner=request.user, name=name[:80])
    request.session[SESSION_KEY] = workspace.id
    messages.success(request, f"Created {workspace.name}. You are its owner.")
    return redirect("dashboard")


# --- Team page -----------------------------------------------------------------------------


def _team_page(request, invite_form=None, rename_form=None, status=200):
    context = team_overview(request.membership)
    context["invite_form"] = invite_form or InviteForm(viewer=request.membership)
    context["rename_form"] = rename_form or RenameForm(initial={"name": request.workspace.name})
    return render(request, "teams/team.html", context, status=status)


@workspace_required
def team(request):
    return _team_page(request)


@workspace_required
@require_POST
def invitation_new(request):
    form = InviteForm(request.POST, viewer=request.membership)
    if not form.is_valid():
        return _team_page(request, invite_form=form, status=400)
    with refusal_flashed(request):
        invitation, _token = services.invitation_create(
            workspace=request.workspace, actor=request.user, email=form.cleaned_data["email"],
            role=form.cleaned_data["role"], base_url=_base_url(request),
        )
        messages.success(
            request,
            f"Invited {invitation.email} as {invitation.get_role_display().lower()}. "
            "The link in the e-mail works for 7 days.",
        )
    return redirect("team")


@workspace_required
@require_POST
def invitation_resend(request, pk):
    invitation = get_object_or_404(request.workspace.invitations, pk=pk)
    with refusal_flashed(request):
        services.invitation_resend(
            workspace=request.workspace, actor=request.user, invitation=invitation,
            base_url=_base_url(request),
        )
        messages.success(request, f"Sent a new invitation link to {invitation.email}; the old link no longer works.")
    return redirect("team")


def _confirm(request, *, title, lead, consequences, button, danger=True):
    return render(request, "teams/confirm.html", {
        "title": title, "lead": lead, "consequences": consequences, "button": button,
        "danger": danger,
    })


@workspace_required
@require_http_methods(["GET", "POST"])
def invitation_cancel(request, pk):
    invitation = get_object_or_404(request.workspace.invitations, pk=pk)
    if request.method == "GET":
        if not permissions.can_manage_invitations(request.membership):
            raise PermissionDenied("Only owners and admins can cancel invitations.")
        return _confirm(
            request, title=f"Cancel the invitation for {invitation.email}?",
            lead=f"The link sent to {invitation.email} stops working at once. You can invite them again later.",
            consequences=[], button="Cancel invitation",
        )
    with refusal_flashed(request):
        services.invitation_cancel(workspace=request.workspace, actor=request.user, invitation=invitation)
        messages.success(request, f"Cancelled the invitation for {invitation.email}.")
    return redirect("team")


@workspace_required
@require_POST
def member_role(request, pk):
    target = get_object_or_404(request.workspace.memberships.select_related("user"), pk=pk)
    role = request.POST.get("role", "")
    with refusal_flashed(request):
        services.member_role_change(
            workspace=request.workspace, actor=request.user, user=target.user, role=role
        )
        messages.success(request, f"{target.user.email} is now {Role(role).label.lower()}.")
    return redirect("team")


@workspace_required
@require_http_methods(["GET", "POST"])
def member_transfer(request, pk):
    target = get_object_or_404(request.workspace.memberships.select_related("user"), pk=pk)
    if request.method == "GET":
        if not permissions.can_transfer_ownership(request.membership, target):
            raise PermissionDenied("Only owners can transfer ownership, to someone who is not an owner yet.")
        return _confirm(
            request, title=f"Make {target.user.email} the owner?",
            lead=(f"{target.user.email} becomes an owner of {request.workspace.name} and you become an "
                  "admin. You will no longer be able to change roles or remove admins."),
            consequences=[], button="Transfer ownership",
        )
    with refusal_flashed(request):
        services.ownership_transfer(workspace=request.workspace, actor=request.user, user=target.user)
        messages.success(request, f"{target.user.email} is now an owner; you are an admin.")
    return redirect("team")


@workspace_required
@require_http_methods(["GET", "POST"])
def member_remove(request, pk):
    target = get_object_or_404(request.workspace.memberships.select_related("user"), pk=pk)
    if target.user_id == request.user.pk:
        return redirect("team_leave")
    if request.method == "GET":
        owners = request.workspace.memberships.filter(role=Role.OWNER).count()
        if not permissions.can_remove(request.membership, target, owners):
            raise PermissionDenied(f"Your role does not allow removing {target.user.email}.")
        return _confirm(
            request, title=f"Remove {target.user.email} from {request.workspace.name}?",
            lead=f"{target.user.email} loses access to {request.workspace.name} at once.",
            consequences=services.member_removal_consequences_list(
                workspace=request.workspace, user=target.user
            ),
            button="Remove member",
        )
    with refusal_flashed(request):
        services.member_remove(workspace=request.workspace, actor=request.user, user=target.user)
        messages.success(request, f"Removed {target.user.email} from {request.workspace.name}.")
    return redirect("team")


@workspace_required
@require_http_methods(["GET", "POST"])
def team_leave(request):
    workspace = request.workspace
    if request.method == "GET":
        owners = workspace.memberships.filter(role=Role.OWNER).count()
        if not permissions.can_leave(request.membership, owners):
            messages.error(
                request,
                f"You are the last owner of {workspace.name}. Make someone else an owner before you leave.",
            )
            return redirect("team")
        return _confirm(
            request, title=f"Leave {workspace.name}?",
            lead=f"You lose access to {workspace.name}. To come back, someone has to invite you again.",
            consequences=services.member_removal_consequences_list(workspace=workspace, user=request.user),
            button="Leave workspace",
        )
    with refusal_flashed(request) as outcome:
        services.member_leave(workspace=workspace, user=request.user)
        request.session.pop(SESSION_KEY, None)
        messages.success(request, f"You left {workspace.name}.")
    return redirect("team" if outcome.refused else "dashboard")


@workspace_required
@require_POST
def workspace_rename(request):
    form = RenameForm(request.POST)
    if not form.is_valid():
        return _team_page(request, rename_form=form, status=400)
    old = request.workspace.name
    with refusal_flashed(request):
        services.workspace_rename(workspace=request.workspace, actor=request.user, name=form.cleaned_data["name"])
        messages.success(request, f"Renamed {old} to {request.workspace.name}.")
    return redirect("team")


# --- Accepting an invitation ---------------------------------------------------------------


def _used_by(invitation, user):
    return (
        invitation is not None and invitation.accepted_by_id == user.pk
        and invitation.workspace.memberships.filter(user=user).exists()
    )


@require_http_methods(["GET", "POST"])
def invitation_accept(request, token):
    invitation = services.invitation_by_token(token)
    here = reverse("invitation_accept", args=[token])
    if not request.user.is_authenticated:
        if request.method == "POST":
            return redirect(f"{reverse('account_login')}?next={here}")
        problem = services.invitation_problem(invitation)
        if problem is None:
            # Whoever opened the link read the invited mailbox: signing up with that address
            # needs no second confirmation e-mail (see AccountAdapter.is_email_verified).
            request.session[INVITATION_SESSION_KEY] = token
        return render(request, "teams/invitation.html", {
            "invitation": invitation, "problem": problem, "next": here,
        })
    if _used_by(invitation, request.user):
        # Signing up through the link already joined (teams.adapter), or the link is opened
        # again later: lead into the workspace rather than say the invitation was used.
        request.session[SESSION_KEY] = invitation.workspace_id
        return redirect("team")
    if request.method == "GET":
        return render(request, "teams/invitation.html", {
            "invitation": invitation, "problem": services.invitation_problem(invitation, user=request.user),
            "next": here,
        })
    with refusal_flashed(request) as outcome:
        membership, created = services.invitation_accept(token=token, user=request.user)
        request.session[SESSION_KEY] = membership.workspace_id
        if created:
            messages.success(
                request, f"Welcome to {membership.workspace.name}. You joined as {membership.get_role_display().lower()}."
            )
        else:
            messages.info(request, f"You were already a member of {membership.workspace.name}.")
    return redirect(here if outcome.refused else "team")
