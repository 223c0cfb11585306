"""A workspace's billing details: who its invoices are made out to."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from teams.models import Workspace


class BillingDetails(models.Model):
    """Owners and admins edit these on the Billing page. An invoice copies them when it is
    issued (billing.invoices.invoice_create), so editing them never changes an issued one."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="billing_details")
    legal_name = models.CharField(max_length=200)
    address = models.TextField(max_length=500, help_text="Street, postal code and city, as on a letter.")
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2 code.")
    tax_id = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True, help_text="Where invoices go; empty: the owners.")
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name_plural = "billing details"

    def __str__(self):
        return self.legal_name
