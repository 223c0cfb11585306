"""Models of the paid side of plans: enterprise enquiries, auto-recharge, subscriptions.

Imported by billing.models, so Django finds them as billing's models.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from teams.models import Workspace

# Auto-recharge amounts, in credits (1 credit = USD 0.01): USD 5 to USD 10,000.
RECHARGE_MIN_CREDITS = 500
RECHARGE_MAX_CREDITS = 1_000_000
RECHARGE_MAX_MONTHLY_CAP = 100


class SalesRequest(models.Model):
    """An enterprise enquiry sent from the Billing page; staff are e-mailed and see it here."""

    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    email = models.EmailField(help_text="Where sales replies.")
    company = models.CharField(max_length=120)
    volume = models.CharField(max_length=120, help_text="Expected monthly volume, in the customer's words.")
    message = models.TextField(max_length=4000)
    created_at = models.DateTimeField(default=timezone.now)
    handled = models.BooleanField(default=False, help_text="Tick once sales has answered.")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.company} ({self.workspace})"


class AutoRecharge(models.Model):
    """A prepaid workspace's auto-recharge settings (credits; 1 credit = USD 0.01)."""

    workspace = models.OneToOneField(Workspace, on_delete=models.PROTECT, related_name="auto_recharge")
    enabled = models.BooleanField(default=False)
    threshold_credits = models.PositiveBigIntegerField(default=500)
    amount_credits = models.PositiveBigIntegerField(default=5_000)
    monthly_cap = models.PositiveSmallIntegerField(
        default=5, help_text="Recharges per UTC calendar month at most."
    )
    disabled_reason = models.CharField(
        max_length=300, blank=True, help_text="Why auto-recharge was turned off by itself (shown to owners)."
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"auto-recharge of {self.workspace}"


class RechargeStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Paid"
    FAILED = "failed", "Failed"


class RechargeAttempt(models.Model):
    """One off-session charge of the saved card. Saved before Stripe is called: its id is the
    idempotency key, so a retried job charges once. (month, sequence) caps a month's count."""

    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="+")
    month = models.DateField(help_text="First day of the UTC calendar month.")
    sequence = models.PositiveSmallIntegerField(help_text="1 for the month's first recharge, …")
    amount_credits = models.PositiveBigIntegerField()
    status = models.CharField(max_length=10, choices=RechargeStatus.choices, default=RechargeStatus.PENDING)
    payment_intent_id = models.CharField(max_length=100, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "month", "sequence"], name="one_recharge_per_slot"),
            models.UniqueConstraint(
                fields=["workspace"], condition=Q(status="pending"), name="one_pending_recharge",
            ),
        ]

    def __str__(self):
        return f"recharge {self.pk} of {self.workspace}"

    @property
    def idempotency_key(self):
        return f"auto_recharge:{self.pk}"


class Subscription(models.Model):
    """A workspace's one Stripe subscription (a paid plan whose fee Stripe bills).

    Kept in step by customer.subscription.* events; `stripe_updated` (the event's created
    time) lets an older event that arrives late change nothing.
    """

    workspace = models.OneToOneField(Workspace, on_delete=models.PROTECT, related_name="subscription")
    stripe_id = models.CharField(max_length=100, unique=True)
    plan = models.ForeignKey("billing.Plan", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=24, help_text="Stripe's status: active, past_due, canceled, …")
    cancel_at_period_end = models.BooleanField(default=False)
    current_period_end = models.DateTimeField(null=True, blank=True)
    problem = models.CharField(max_length=300, blank=True, help_text="The last payment problem, shown to owners.")
    stripe_updated = models.BigIntegerField(default=0, help_text="Unix time of the last event applied.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.stripe_id

    @property
    def status_display(self):
        return self.status.replace("_", " ").capitalize()

    @property
    def past_due(self):
        return self.status in ("past_due", "unpaid")
