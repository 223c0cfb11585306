"""django-allauth's hooks into teams: a new user gets a workspace, an invitation proves an address."""

from allauth.account.adapter import DefaultAccountAdapter
from django.db import transaction

from teams.selectors import INVITATION_SESSION_KEY
from teams.services import (
    default_workspace_name, invitation_by_token, invitation_problem, workspace_create,
)


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        """Every new user starts with a workspace of their own, as its owner."""
        with transaction.atomic():
            user = super().save_user(request, user, form, commit=commit)
            if commit:
                workspace_create(owner=user, name=default_workspace_name(user.email))
        return user

    def is_email_verified(self, request, email):
        """An address is proven when this browser opened a still-valid invitation sent to it.

        The invitation link reached that mailbox just as a confirmation link would, so a
        newcomer who signs up with the invited address goes straight back to the invitation.
        Any other address still needs the confirmation e-mail.
        """
        token = request.session.get(INVITATION_SESSION_KEY) if request is not None else None
        if token:
            invitation = invitation_by_token(token)
            if invitation_problem(invitation) is None and invitation.email.lower() == email.lower():
                return True
        return super().is_email_verified(request, email)

