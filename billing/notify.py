"""E-mails billing sends: to a workspace's owners and admins, or to staff.

One helper renders a plain-text template and sends it; callers run it after their
transaction commits, so a rolled-back change never mails anyone.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from teams.models import Membership, Role

logger = logging.getLogger(__name__)


def manager_emails(workspace_id: int) -> list[str]:
    """The addresses of the workspace's owners and admins (who may fix billing)."""
    return sorted(set(
        Membership.objects.filter(workspace_id=workspace_id, role__in=[Role.OWNER, Role.ADMIN])
        .values_list("user__email", flat=True)
    ))


def staff_emails() -> list[str]:
    return sorted(set(
        get_user_model().objects.filter(is_staff=True, is_active=True).exclude(email="")
        .values_list("email", flat=True)
    ))


def mail_send(*, to: list[str], subject: str, template: str, context: dict) -> bool:
    """Send `templates/billing/email/<template>.txt`; False (logged) when it could not go.

    A mail that fails must not undo the money movement that caused it, so errors are logged
    rather than raised.
    """
    if not to:
        return False
    context = {"site_url": settings.SITE_URL, **context}
    body = render_to_string(f"billing/email/{template}.txt", context)
    message = EmailMessage(subject=f"[Meterdesk] {subject}", body=body, to=to)
    try:
        message.send()
    except Exception:
        logger.exception("billing mail %s to %s failed", template, to)
        return False
    return True


def billing_problem_mail(*, workspace, subject: str, template: str, context: dict) -> None:
    """After the transaction commits, tell the owners and admins of a payment problem."""
    from django.db import transaction

    context = {"workspace": workspace, **context}
    transaction.on_commit(lambda: mail_send(
        to=manager_emails(workspace.pk), subject=f"{subject} ({workspace.name})", template=template, context=context,
    ))
