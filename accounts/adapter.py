from allauth.account.adapter import DefaultAccountAdapter
from django.db import transaction

from teams.services import workspace_create


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        """Every new user starts with a workspace of their own, as its owner."""
        with transaction.atomic():
            user = super().save_user(request, user, form, commit=commit)
            if commit:
                workspace_create(owner=user, name=default_workspace_name(user.email))
        return user


def default_workspace_name(email):
    local = email.split("@", 1)[0].replace(".", " ").replace("_", " ").strip() or "My"
    return f"{local.title()}'s workspace"
