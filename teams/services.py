"""Writes to workspaces, memberships and invitations. Views, commands and tests call these."""

import secrets

from django.db import transaction
from django.utils.text import slugify

from teams.models import Membership, Role, Workspace
from teams.signals import workspace_created


def _unique_slug(name):
    base = slugify(name)[:40].strip("-") or "workspace"
    while True:
        slug = f"{base}-{secrets.token_hex(3)}"
        if not Workspace.objects.filter(slug=slug).exists():
            return slug


@transaction.atomic
def workspace_create(*, owner, name, slug=None):
    """Make a workspace with `owner` as its first owner; other apps set up their side."""
    workspace = Workspace.objects.create(name=name.strip(), slug=slug or _unique_slug(name))
    Membership.objects.create(user=owner, workspace=workspace, role=Role.OWNER)
    workspace_created.send(sender=Workspace, workspace=workspace, owner=owner)
    return workspace
