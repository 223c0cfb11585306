"""Billing's payment records: packs on sale, the Stripe customer and card of a workspace, the
payments Meterdesk asked for, credit notes, received webhook events and the sandbox's store.

Imported by billing/models.py (Django finds models there); kept apart so plans, the ledger
and invoices stay readable.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from teams.models import Workspace


class CreditPack(models.Model):
    """A pack on the Billing page: `credits` at USD 0.01 each (data staff edit)."""

    credits = models.PositiveIntegerField(unique=True)
    is_active = models.BooleanField(default=True, help_text="Offered on the Billing page.")
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "credits"]

    def __str__(self):
        return f"{self.credits:,} credits"

    @property
    def price_cents(self):
        return self.credits  # 1 credit = 1 US cent


class PaymentCustomer(models.Model):
    """The one Stripe Customer of a workspace, and where its paid invoices are e-mailed."""

    workspace = models.OneToOneField(Workspace, on_delete=models.PROTECT, related_name="payment_customer")
    stripe_id = models.CharField(max_length=255, unique=True)
    billing_email = models.EmailField(blank=True, help_text="Paid invoices are e-mailed here.")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return self.stripe_id


class SavedCard(models.Model):
    """The card on file: at most one per workspace is current (removed_at empty)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="cards")
    stripe_id = models.CharField(max_length=255, unique=True)
    brand = models.CharField(max_length=30)
    last4 = models.CharField(max_length=4)
    exp_month = models.PositiveSmallIntegerField()
    exp_year = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)
    expiry_notice_for = models.CharField(
        max_length=7, blank=True, help_text="The expiry (YYYY-MM) whose reminder was sent."
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "card on file"
        verbose_name_plural = "cards on file"
        constraints = [
            models.UniqueConstraint(
                fields=["workspace"], condition=models.Q(removed_at__isnull=True), name="one_current_card",
            ),
        ]

    def __str__(self):
        return f"{self.brand_display} •••• {self.last4}"

    @property
    def brand_display(self):
        names = {"amex": "American Express", "mastercard": "Mastercard", "visa": "Visa",
                 "discover": "Discover", "jcb": "JCB", "diners": "Diners Club", "unionpay": "UnionPay"}
        return names.get(self.brand, self.brand.title())

    @property
    def expiry(self):
        return f"{self.exp_month:02d}/{self.exp_year}"


class PaymentKind(models.TextChoices):
    CREDIT_PACK = "credit_pack", "Credits"
    INVOICE = "invoice", "Invoice payment"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "Waiting for payment"
    PROCESSING = "processing", "Processing"
    PAID = "paid", "Paid"
    DECLINED = "declined", "Declined"


class Payment(models.Model):
    """A payment Meterdesk asked for through Checkout, saved before Stripe hears of it.

    Its id is the idempotency key of the Checkout call (`payment:<id>`); the return page
    reads its status. The money itself is credited under the PaymentIntent (`pi:<id>`).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="payments")
    kind = models.CharField(max_length=20, choices=PaymentKind.choices)
    status = models.CharField(max_length=12, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    credits = models.PositiveBigIntegerField(null=True, blank=True)
    amount_cents = models.PositiveBigIntegerField()
    invoice = models.ForeignKey(
        "billing.Invoice", on_delete=models.PROTECT, null=True, blank=True, related_name="payments",
        help_text="The invoice paid (Pay now) or written for the credits.",
    )
    checkout_session_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    payment_intent_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    failure_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"payment {self.pk} ({self.kind}, {self.status})"

    @property
    def idempotency_key(self):
        return f"payment:{self.pk}"


class CreditNoteKind(models.TextChoices):
    REFUND = "refund", "Refund"
    DISPUTE = "dispute", "Dispute"


class CreditNote(models.Model):
    """Money given back on an invoice (a refund, or a dispute the bank opened)."""

    invoice = models.ForeignKey("billing.Invoice", on_delete=models.PROTECT, related_name="credit_notes")
    kind = models.CharField(max_length=10, choices=CreditNoteKind.choices)
    reference = models.CharField(max_length=200, unique=True, help_text="refund:<re_…> or dispute:<dp_…>")
    amount_cents = models.PositiveBigIntegerField()
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount_cents} on {self.invoice_id}"


class WebhookStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed (Stripe retries)"
    IGNORED = "ignored", "Ignored"


class WebhookEvent(models.Model):
    """One row per Stripe event id: what arrived, and what became of it."""

    stripe_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=WebhookStatus.choices, default=WebhookStatus.RECEIVED)
    reason = models.TextField(blank=True)
    payload = models.JSONField()
    attempts = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["status", "received_at"])]

    def __str__(self):
        return f"{self.type} {self.stripe_id}"


class SandboxObject(models.Model):
    """The built-in payment sandbox's store (development only): Stripe-shaped JSON by id."""

    id = models.CharField(primary_key=True, max_length=64)
    object = models.CharField(max_length=40)
    data = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
