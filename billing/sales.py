"""Enterprise enquiries: the "contact sales" form of the Billing page."""

from django.db import transaction

from billing.models import SalesRequest
from billing.mails import mail_send, staff_emails


def sales_request_create(*, workspace, user, company: str, volume: str, message: str) -> SalesRequest:
    """Keep the enquiry (listed in the admin) and e-mail staff once it is saved."""
    request = SalesRequest.objects.create(
        workspace=workspace, requested_by=user, email=user.email,
        company=company.strip(), volume=volume.strip(), message=message.strip(),
    )
    transaction.on_commit(lambda: mail_send(
        to=staff_emails(), subject=f"Enterprise enquiry from {request.company}",
        template="sales_request", context={"request": request},
    ))
    return request
