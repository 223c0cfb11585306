"""Payment e-mails: a paid invoice's PDF to the billing e-mail, and the card expiry reminder.

Sent after the transaction commits (a rolled-back payment sends nothing); a failing mail
server is logged, never allowed to undo a payment that happened.
"""

import logging

from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string

from teams.models import Membership, Role

log = logging.getLogger("meterdesk.payments")


def managers_emails(workspace):
    """Owners and admins: the people who can act on a billing problem."""
    return list(
        Membership.objects.filter(workspace=workspace, role__in=[Role.OWNER, Role.ADMIN])
        .order_by("joined_at", "pk").values_list("user__email", flat=True)
    )


def billing_emails(workspace):
    """The billing e-mail set for the workspace, else its first owner's."""
    from billing.models import PaymentCustomer

    customer = PaymentCustomer.objects.filter(workspace=workspace).first()
    if customer is not None and customer.billing_email:
        return [customer.billing_email]
    return managers_emails(workspace)[:1]


def _send(message):
    try:
        message.send()
    except Exception:  # noqa: BLE001 - the payment stands; staff see the log
        log.exception("could not send %r to %s", message.subject, message.to)


def invoice_mail(invoice):
    from billing.pdf import invoice_pdf

    recipients = billing_emails(invoice.workspace)
    if not recipients:
        return
    context = {"invoice": invoice, "workspace": invoice.workspace}
    message = EmailMessage(
        subject=render_to_string("billing/email/invoice_subject.txt", context).strip(),
        body=render_to_string("billing/email/invoice_message.txt", context),
        to=recipients,
    )
    message.attach(f"{invoice.number}.pdf", invoice_pdf(invoice), "application/pdf")
    _send(message)


def invoice_mail_on_commit(invoice):
    transaction.on_commit(lambda: invoice_mail(invoice))


def card_expiry_mail(card):
    recipients = managers_emails(card.workspace)
    if not recipients:
        return
    context = {"card": card, "workspace": card.workspace}
    _send(EmailMessage(
        subject=f"[Meterdesk] The card of {card.workspace.name} expires at the end of {card.expiry}",
        body=render_to_string("billing/email/card_expiry_message.txt", context),
        to=recipients,
    ))


# --- plain-text mails of plans: enquiries to staff, payment problems to owners and admins ---


def staff_emails():
    from django.contrib.auth import get_user_model

    return sorted(set(
        get_user_model().objects.filter(is_staff=True, is_active=True).exclude(email="")
        .values_list("email", flat=True)
    ))


def mail_send(*, to, subject, template, context):
    """Send `templates/billing/email/<template>.txt` (links use settings.SITE_URL: jobs have
    no request to take the host from)."""
    from django.conf import settings

    if not to:
        return
    context = {"site_url": settings.SITE_URL, **context}
    _send(EmailMessage(subject=f"[Meterdesk] {subject}", to=to,
                       body=render_to_string(f"billing/email/{template}.txt", context)))


def billing_problem_mail(*, workspace, subject, template, context):
    """After the transaction commits, tell the owners and admins of a payment problem."""
    context = {"workspace": workspace, **context}
    transaction.on_commit(lambda: mail_send(
        to=managers_emails(workspace), subject=f"{subject} ({workspace.name})", template=template, context=context,
    ))

