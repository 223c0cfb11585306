"""django-allauth's hooks into teams: a new user gets a workspace, an invitation proves an
address, and signing up through an invitation joins the inviting workspace instead."""

from allauth.account.adapter import DefaultAccountAdapter
from django.contrib import messages
from django.db import transaction

from config.site import site_context, site_current
from teams.selectors import INVITATION_SESSION_KEY, SESSION_KEY
from teams.services import (
    TeamError, default_workspace_name, invitation_accept, invitation_by_token, invitation_problem,
    workspace_create,
)


def _opened_invitation(request, email):
    """The still-valid invitation for `email` that this browser opened, or None."""
    token = request.session.get(INVITATION_SESSION_KEY) if request is not None else None
    invitation = invitation_by_token(token)
    if invitation is None or invitation_problem(invitation) is not None:
        return None
    if invitation.email.lower() != (email or "").lower():
        return None
    return token


class AccountAdapter(DefaultAccountAdapter):
    def send_mail(self, template_prefix, email, context):
        """allauth's mails name the site from settings (config.site), not from the Host
        header of the request that sent them ("Hello from 127.0.0.1:8731")."""
        super().send_mail(template_prefix, email, {**site_context(), **context})

    def format_email_subject(self, subject):
        return f"[{site_current().name}] {subject}"

    def save_user(self, request, user, form, commit=True):
        """A new user joins the workspace whose invitation they signed up through; anyone
        else starts with a workspace of their own, as its owner (docs/design.md)."""
        with transaction.atomic():
            user = super().save_user(request, user, form, commit=commit)
            if commit and not self._join_opened_invitation(request, user):
                workspace_create(owner=user, name=default_workspace_name(user.email))
        return user

    def _join_opened_invitation(self, request, user):
        token = _opened_invitation(request, user.email)
        if token is None:
            return False
        try:
            membership, _created = invitation_accept(token=token, user=user)
        except TeamError:  # cancelled or used a moment ago: sign up as anyone else would
            return False
        request.session[SESSION_KEY] = membership.workspace_id
        request.session.pop(INVITATION_SESSION_KEY, None)
        # The used invitation no longer proves the address below, so hand it to allauth
        # as verified now: it makes the e-mail address verified, and no confirmation mail.
        self.stash_verified_email(request, user.email)
        messages.success(
            request,
            f"Welcome to {membership.workspace.name}. You joined as {membership.get_role_display().lower()}.",
        )
        return True

    def is_email_verified(self, request, email):
        """An address is proven when this browser opened a still-valid invitation sent to it.

        The invitation link reached that mailbox just as a confirmation link would, so a
        newcomer who signs up with the invited address needs no confirmation e-mail.
        Any other address still needs the confirmation e-mail.
        """
        if _opened_invitation(request, email) is not None:
            return True
        return super().is_email_verified(request, email)
