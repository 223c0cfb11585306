"""Billing details (who invoices are made out to) and the two parties an invoice copies."""

from django.conf import settings
from django.utils import timezone

from billing.countries import COUNTRY_NAMES
from billing.details_models import BillingDetails
from teams.models import Workspace


def billing_details_of(workspace: Workspace) -> BillingDetails | None:
    return BillingDetails.objects.filter(workspace=workspace).first()


def billing_details_save(*, workspace: Workspace, actor, legal_name: str, address: str, country: str,
                         tax_id: str = "", email: str = "") -> BillingDetails:
    """Save what the next invoices are made out to (owners and admins, checked by the view);
    invoices already issued keep the details they were issued with."""
    details, _ = BillingDetails.objects.update_or_create(
        workspace=workspace,
        defaults={"legal_name": legal_name, "address": address, "country": country, "tax_id": tax_id,
                  "email": email, "updated_at": timezone.now(), "updated_by": actor},
    )
    return details


def invoice_parties(workspace: Workspace) -> dict[str, str]:
    """The seller (settings) and the customer (billing details, else the workspace's name) as
    Invoice fields, to copy onto an invoice when it is issued."""
    details = billing_details_of(workspace)
    customer = {"customer_name": workspace.name}
    if details is not None:
        customer = {
            "customer_name": details.legal_name, "customer_address": details.address,
            "customer_country": details.country, "customer_tax_id": details.tax_id,
            "customer_email": details.email,
        }
    return {"seller_name": settings.INVOICE_SELLER_NAME, "seller_address": settings.INVOICE_SELLER_ADDRESS,
            **customer}


def country_name(code: str) -> str:
    return COUNTRY_NAMES.get(code, code)
