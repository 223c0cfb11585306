"""Writes to workspaces, memberships and invitations. Views, commands and tests call these.

Every team change runs in one transaction that first locks the rows it decides on: the
workspace's owner memberships plus the actor's and the target's. Two owners demoting each
other, or two accepts of one invitation, therefore run one after the other, and the second
sees what the first did. Rules come from teams.permissions; a refusal is a TeamError whose
message is a sentence to show the user.
"""

import hashlib
import secrets
from datetime import timedelta

from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import User
from config.flash import Refusal
from config.site import site_context
from teams import permissions
from teams.models import Invitation, Membership, Role, Workspace
from teams.signals import member_removal_consequences, member_removed, workspace_created

INVITATION_LIFETIME = timedelta(days=7)
WORKSPACE_NAME_MAX = 80


class TeamError(Refusal):
    """A team change that is not allowed; str(error) is a sentence for the user."""


def _unique_slug(name):
    base = slugify(name)[:40].strip("-") or "workspace"
    while True:
        slug = f"{base}-{secrets.token_hex(3)}"
        if not Workspace.objects.filter(slug=slug).exists():
            return slug


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def default_workspace_name(email: str) -> str:
    """"Ada's workspace" for ada@example.com: the name of a workspace made without one."""
    local = email.split("@", 1)[0].replace(".", " ").replace("_", " ").strip() or "My"
    return f"{local.title()}'s workspace"


@transaction.atomic
def workspace_create(*, owner: User, name: str, slug: str | None = None) -> Workspace:
    """Make a workspace with `owner` as its first owner; other apps set up their side."""
    workspace = Workspace.objects.create(name=name.strip(), slug=slug or _unique_slug(name))
    Membership.objects.create(user=owner, workspace=workspace, role=Role.OWNER)
    workspace_created.send(sender=Workspace, workspace=workspace, owner=owner)
    return workspace


# --- locking -------------------------------------------------------------------------------


class _Team:
    """The locked rows a decision needs: owners, the actor and the target (by user id)."""

    def __init__(self, workspace, users):
        rows = (
            Membership.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(workspace=workspace)
            .filter(Q(role=Role.OWNER) | Q(user__in=[u.pk for u in users]))
            .order_by("id")  # one lock order everywhere, so two changes never deadlock
        )
        self.by_user = {m.user_id: m for m in rows}
        self.owner_count = sum(1 for m in self.by_user.values() if m.role == Role.OWNER)

    def member(self, user, missing):
        membership = self.by_user.get(user.pk)
        if membership is None:
            raise TeamError(missing)
        return membership


def _actor(team, workspace, actor):
    return team.member(actor, f"You are no longer a member of {workspace.name}.")


# --- invitations ---------------------------------------------------------------------------


def _invitation_send(invitation, token, base_url):
    link = base_url.rstrip("/") + f"/invites/{token}/"
    context = {"invitation": invitation, "link": link, "workspace": invitation.workspace,
               "inviter": invitation.invited_by, "expires_at": invitation.expires_at, **site_context()}
    # A subject is a header: plain text (the template turns autoescape off) on one line.
    subject = " ".join(render_to_string("teams/email/invitation_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("teams/email/invitation_message.txt", context),
        to=[invitation.email],
    )
    message.attach_alternative(render_to_string("teams/email/invitation_message.html", context), "text/html")
    try:
        message.send()
    except Exception as exc:  # SMTP down: roll the invitation back rather than keep a silent one
        raise TeamError(f"The invitation e-mail to {invitation.email} could not be sent; try again.") from exc
    return link


def _new_token():
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


@transaction.atomic
def invitation_create(
    *, workspace: Workspace, actor: User, email: str, role: str, base_url: str, send: bool = True,
) -> tuple[Invitation, str]:
    """Invite `email` with `role`; mails a link to /invites/<token>/. Returns (invitation, token)."""
    email = (email or "").strip().lower()
    if role not in Role.values:
        raise TeamError("Choose a role: owner, admin or member.")
    team = _Team(workspace, [actor])
    me = _actor(team, workspace, actor)
    if not permissions.can_invite(me, role):
        if me.role == Role.MEMBER:
            raise TeamError("Only owners and admins can invite people.")
        raise TeamError("Only owners can invite owners.")
    if workspace.memberships.filter(user__email__iexact=email).exists():
        raise TeamError(f"{email} is already a member of {workspace.name}.")
    if workspace.invitations.pending().filter(email__iexact=email).exists():
        raise TeamError(f"{email} already has a pending invitation; resend it from the list below.")
    token, hashed = _new_token()
    invitation = Invitation.objects.create(
        workspace=workspace, email=email, role=role, token_hash=hashed, invited_by=actor,
        expires_at=timezone.now() + INVITATION_LIFETIME,
    )
    if send:
        _invitation_send(invitation, token, base_url)
    return invitation, token


def _open_invitation_for_manager(workspace, actor, invitation_id):
    team = _Team(workspace, [actor])
    me = _actor(team, workspace, actor)
    if not permissions.can_manage_invitations(me):
        raise TeamError("Only owners and admins can resend or cancel invitations.")
    invitation = workspace.invitations.select_for_update().get(pk=invitation_id)
    if invitation.accepted_at:
        raise TeamError(f"The invitation for {invitation.email} was already accepted.")
    if invitation.cancelled_at:
        raise TeamError(f"The invitation for {invitation.email} was already cancelled.")
    return invitation


@transaction.atomic
def invitation_resend(
    *, workspace: Workspace, actor: User, invitation: Invitation, base_url: str,
) -> tuple[Invitation, str]:
    """A new link (the old one stops working) valid for another 7 days, mailed again."""
    invitation = _open_invitation_for_manager(workspace, actor, invitation.pk)
    token, invitation.token_hash = _new_token()
    invitation.expires_at = timezone.now() + INVITATION_LIFETIME
    invitation.save(update_fields=["token_hash", "expires_at"])
    _invitation_send(invitation, token, base_url)
    return invitation, token


@transaction.atomic
def invitation_cancel(*, workspace: Workspace, actor: User, invitation: Invitation) -> Invitation:
    invitation = _open_invitation_for_manager(workspace, actor, invitation.pk)
    invitation.cancelled_at = timezone.now()
    invitation.save(update_fields=["cancelled_at"])
    return invitation


def invitation_by_token(token: str | None) -> Invitation | None:
    """The invitation a link points to, whatever its state, or None."""
    if not token:
        return None
    return Invitation.objects.select_related("workspace", "invited_by").filter(
        token_hash=token_hash(token)
    ).first()


def invitation_problem(invitation: Invitation | None, *, user: User | None = None) -> str | None:
    """Why this invitation cannot be accepted (by `user`), as a sentence; None if it can."""
    if invitation is None:
        return "This invitation link is not valid. Ask for a new invitation."
    if invitation.cancelled_at:
        return f"This invitation to {invitation.workspace.name} was cancelled. Ask for a new one."
    if invitation.accepted_at:
        return f"This invitation to {invitation.workspace.name} has already been used."
    if invitation.is_expired:
        return (f"This invitation to {invitation.workspace.name} expired on "
                f"{invitation.expires_at:%d %b %Y}. Ask for a new one.")
    if user is not None and user.email.lower() != invitation.email.lower():
        return (f"This invitation is for {invitation.email}, but you are logged in as "
                f"{user.email}. Log out and log in (or sign up) as {invitation.email}.")
    return None


@transaction.atomic
def invitation_accept(*, token: str, user: User) -> tuple[Membership, bool]:
    """Join the workspace as the invited role. Works once, before expiry, for the invited e-mail."""
    found = invitation_by_token(token)
    if found is None:
        raise TeamError(invitation_problem(None))
    # The row lock makes a second, simultaneous accept wait and then see accepted_at.
    invitation = Invitation.objects.select_for_update().select_related("workspace").get(pk=found.pk)
    problem = invitation_problem(invitation, user=user)
    if problem:
        raise TeamError(problem)
    membership, created = Membership.objects.get_or_create(
        user=user, workspace=invitation.workspace, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership, created


# --- members -------------------------------------------------------------------------------


@transaction.atomic
def member_role_change(*, workspace: Workspace, actor: User, user: User, role: str) -> Membership:
    if role not in Role.values:
        raise TeamError("Choose a role: owner, admin or member.")
    team = _Team(workspace, [actor, user])
    me = _actor(team, workspace, actor)
    target = team.member(user, f"{user.email} is not a member of {workspace.name}.")
    if me.user_id == target.user_id:
        raise TeamError("You can't change your own role. Ask another owner.")
    if not permissions.can_change_role(me, target):
        raise TeamError("Only owners can change roles.")
    if target.role == Role.OWNER and role != Role.OWNER and team.owner_count <= 1:
        raise TeamError(f"{user.email} is the last owner of {workspace.name} and must stay an owner.")
    target.role = role
    target.save(update_fields=["role"])
    return target


@transaction.atomic
def ownership_transfer(*, workspace: Workspace, actor: User, user: User) -> Membership:
    """Make `user` an owner and step the actor down to admin."""
    team = _Team(workspace, [actor, user])
    me = _actor(team, workspace, actor)
    target = team.member(user, f"{user.email} is not a member of {workspace.name}.")
    if not permissions.can_transfer_ownership(me, target):
        if me.role != Role.OWNER:
            raise TeamError("Only owners can transfer ownership.")
        raise TeamError(f"{user.email} is already an owner.")
    target.role = Role.OWNER
    target.save(update_fields=["role"])
    me.role = Role.ADMIN
    me.save(update_fields=["role"])
    return target


def member_removal_consequences_list(*, workspace: Workspace, user: User) -> list[str]:
    """Sentences from other apps naming what removing `user` will do (keys revoked, …)."""
    sentences = []
    for _receiver, result in member_removal_consequences.send(
        sender=Membership, workspace=workspace, user=user
    ):
        sentences.extend(result or [])
    return sentences


def _membership_end(workspace, membership, actor):
    membership.delete()
    # Receivers (API keys) clean up inside this transaction, so a failure keeps the member.
    member_removed.send(sender=Membership, workspace=workspace, user=membership.user, actor=actor)


@transaction.atomic
def member_remove(*, workspace: Workspace, actor: User, user: User) -> None:
    """Remove someone else: owners and admins remove members, owners remove anyone but the last owner."""
    team = _Team(workspace, [actor, user])
    me = _actor(team, workspace, actor)
    target = team.member(user, f"{user.email} is not a member of {workspace.name}.")
    if me.user_id == target.user_id:
        raise TeamError("To remove yourself, use Leave workspace.")
    if not permissions.can_remove(me, target, team.owner_count):
        if target.role == Role.OWNER and team.owner_count <= 1:
            raise TeamError(f"{user.email} is the last owner of {workspace.name} and can't be removed.")
        if me.role == Role.MEMBER:
            raise TeamError("Only owners and admins can remove people.")
        raise TeamError("Only owners can remove admins and owners.")
    _membership_end(workspace, target, actor)


@transaction.atomic
def member_leave(*, workspace: Workspace, user: User) -> None:
    team = _Team(workspace, [user])
    me = team.member(user, f"You are not a member of {workspace.name}.")
    if not permissions.can_leave(me, team.owner_count):
        raise TeamError(
            f"You are the last owner of {workspace.name}. Make someone else an owner before you leave."
        )
    _membership_end(workspace, me, user)


@transaction.atomic
def workspace_rename(*, workspace: Workspace, actor: User, name: str) -> Workspace:
    name = (name or "").strip()
    if not name:
        raise TeamError("Give the workspace a name.")
    if len(name) > WORKSPACE_NAME_MAX:
        raise TeamError(f"Keep the name under {WORKSPACE_NAME_MAX + 1} characters.")
    team = _Team(workspace, [actor])
    me = _actor(team, workspace, actor)
    if not permissions.can_rename(me):
        raise TeamError("Only owners and admins can rename the workspace.")
    # Only the name changes: the slug is in URLs and API answers and never changes.
    Workspace.objects.filter(pk=workspace.pk).update(name=name)
    workspace.name = name
    return workspace
