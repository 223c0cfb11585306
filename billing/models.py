from django.conf import settings
from django.db import models
from django.utils import timezone

from teams.models import Workspace


class Plan(models.Model):
    """A plan as data: prices, allowances and the descriptive rows shown on /pricing."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    is_public = models.BooleanField(default=True, help_text="Shown on /pricing and Billing.")
    sort_order = models.PositiveSmallIntegerField(default=0)
    price_cents = models.PositiveIntegerField(default=0, help_text="Fee per cycle in US cents.")
    price_is_custom = models.BooleanField(
        default=False, help_text="The fee and terms are set per workspace by staff (enterprise)."
    )
    included_credits = models.PositiveBigIntegerField(default=0, help_text="Granted each cycle.")
    one_time_credits = models.PositiveBigIntegerField(
        default=0, help_text="Given once per verified user, on their first workspace."
    )
    requests_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: no limit."
    )
    custom_models_allowed = models.PositiveIntegerField(
        null=True, blank=True, default=0, help_text="0: pre-configured only; empty: unlimited."
    )
    overage_allowed = models.BooleanField(default=False)
    default_overage_limit = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Credits of overage allowed per cycle by default."
    )
    metadata_retention_days = models.PositiveIntegerField(
        default=0, help_text="How long request metadata is kept; 0: never stored."
    )
    billing_summary = models.CharField(max_length=120, blank=True)
    support = models.CharField(max_length=120, blank=True)
    compliance = models.CharField(max_length=120, blank=True)
    deployments = models.CharField(max_length=120, blank=True)
    service_level = models.CharField(max_length=120, blank=True)
    data_retention = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["sort_order", "price_cents"]

    def __str__(self):
        return self.name


# Pay-as-you-go overage allowed per cycle until the owner sets a limit: USD 100.
PAYG_DEFAULT_OVERAGE_LIMIT = 10_000
# Enterprise's default overage limit (its plan row's default_overage_limit, set by migration
# 0007), until staff agree another in the workspace's terms: USD 10,000.
ENTERPRISE_DEFAULT_OVERAGE_LIMIT = 1_000_000


class BillingMode(models.TextChoices):
    PREPAID = "prepaid", "Prepaid"
    PAY_AS_YOU_GO = "pay_as_you_go", "Pay as you go"


class BillingAccount(models.Model):
    """A workspace's side of billing: plan, mode, limits, cycle anchor and staff terms."""

    workspace = models.OneToOneField(Workspace, on_delete=models.PROTECT, related_name="billing")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    billing_mode = models.CharField(
        max_length=20, choices=BillingMode.choices, default=BillingMode.PREPAID
    )
    overage_limit = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Credits of overage allowed per cycle."
    )
    cycle_anchor_day = models.PositiveSmallIntegerField(default=1)
    scheduled_plan = models.ForeignKey(
        Plan, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="A downgrade that takes effect when the current cycle ends.",
    )
    # Enterprise terms, set by staff; empty means "the plan's value".
    custom_fee_cents = models.PositiveIntegerField(null=True, blank=True)
    custom_included_credits = models.PositiveBigIntegerField(null=True, blank=True)
    custom_requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    unlimited_rate = models.BooleanField(
        default=False, help_text="Enterprise: no rate limit at all."
    )
    fee_billed_by_stripe = models.BooleanField(
        default=False,
        help_text="A Stripe subscription invoices the plan fee itself; cycle closes leave it out.",
    )
    payment_past_due = models.BooleanField(
        default=False, help_text="The Stripe subscription is past due: no overage until it is paid.",
    )
    volume_tiers = models.JSONField(
        default=list, blank=True,
        help_text='e.g. [{"above": 1000000, "discount_percent": "10"}] (credits per cycle).',
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.workspace} on {self.plan}"

    @property
    def requests_per_minute(self):
        if self.unlimited_rate:
            return None
        if self.custom_requests_per_minute is not None:
            return self.custom_requests_per_minute
        return self.plan.requests_per_minute

    @property
    def included_credits(self):
        if self.custom_included_credits is not None:
            return self.custom_included_credits
        return self.plan.included_credits

    @property
    def fee_cents(self):
        if self.custom_fee_cents is not None:
            return self.custom_fee_cents
        return self.plan.price_cents

    @property
    def may_overspend(self):
        return self.plan.overage_allowed or self.billing_mode == BillingMode.PAY_AS_YOU_GO

    @property
    def effective_overage_limit(self):
        """Credits the balance may go below zero this cycle; None only where the account may
        not overspend at all (prepaid on a plan without overage).

        Every plan or mode that allows overage has a limit (docs/design.md): the account's own,
        else the plan's default (the admin refuses an overage plan without one), else
        PAYG_DEFAULT_OVERAGE_LIMIT for pay-as-you-go until the owner sets one.
        """
        if not self.may_overspend:
            return None
        if self.payment_past_due:
            return 0  # docs/design.md: while a subscription is past due the overage limit is 0
        if self.overage_limit is not None:
            return self.overage_limit
        if self.plan.default_overage_limit is not None:
            return self.plan.default_overage_limit
        if self.plan.overage_allowed:
            return ENTERPRISE_DEFAULT_OVERAGE_LIMIT  # a plan row older than migration 0007
        return PAYG_DEFAULT_OVERAGE_LIMIT


class BillingCycle(models.Model):
    """One monthly cycle [start, end) of a workspace; closed exactly once."""

    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="cycles")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-start"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "start"], name="one_cycle_per_start"),
        ]
        indexes = [models.Index(fields=["end", "closed_at"])]

    def __str__(self):
        return f"{self.workspace} {self.start:%Y-%m-%d} – {self.end:%Y-%m-%d}"


class EntryKind(models.TextChoices):
    SIGNUP_BONUS = "signup_bonus", "Sign-up bonus"
    INCLUDED_GRANT = "included_grant", "Included credits"
    PURCHASE = "purchase", "Credit purchase"
    AUTO_RECHARGE = "auto_recharge", "Auto-recharge"
    USAGE = "usage", "Usage"
    EXPIRY = "expiry", "Expiry of included credits"
    OVERAGE_SETTLEMENT = "overage_settlement", "Overage settled on invoice"
    REFUND = "refund", "Refund"
    ADJUSTMENT = "adjustment", "Staff adjustment"


class LedgerEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise LedgerIsAppendOnly("Ledger entries are never updated.")

    def delete(self):
        raise LedgerIsAppendOnly("Ledger entries are never deleted.")


class LedgerIsAppendOnly(Exception):
    pass


class LedgerEntry(models.Model):
    """One movement of credits. Rows are only ever inserted (also enforced by a trigger).

    `reference` is unique: a Stripe id, a usage event, a cycle id. It is what makes a
    retried webhook, a replayed event or a job run twice move money only once.
    """

    # No index of its own: the (workspace, created_at) index leads with it, and every index
    # costs each usage charge an insert.
    workspace = models.ForeignKey(
        Workspace, on_delete=models.PROTECT, related_name="ledger", db_index=False
    )
    kind = models.CharField(max_length=24, choices=EntryKind.choices)
    amount_micro = models.BigIntegerField(help_text="Micro-credits; negative for usage.")
    reference = models.CharField(max_length=200, unique=True, null=True, blank=True)
    memo = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = LedgerEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "created_at"]),
            # Everything but usage charges (grants, refunds, purchases, …): a cycle's few such
            # rows without reading its millions of charges; usage inserts skip this index.
            models.Index(
                fields=["workspace", "created_at"], name="ledger_ws_not_usage",
                condition=~models.Q(kind="usage"),
            ),
        ]
        verbose_name_plural = "ledger entries"

    def __str__(self):
        return f"{self.kind} {self.amount_micro} for {self.workspace_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise LedgerIsAppendOnly("Ledger entries are never updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise LedgerIsAppendOnly("Ledger entries are never deleted.")


class BalanceShard(models.Model):
    """A workspace's balance, split over a few rows so concurrent charges rarely wait.

    The balance is the sum of a workspace's shards, which always equals the sum of its ledger
    (each ledger insert adds the same amount to one shard in the same transaction).
    See docs/ledger.md for why.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="+")
    shard = models.PositiveSmallIntegerField()
    balance_micro = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "shard"], name="one_row_per_shard"),
        ]


class UsageDayTotal(models.Model):
    """Usage charged to a workspace on one UTC day, over a few shard rows like the balance.

    Every usage charge adds its amount (and one to `charges`) here in the same statement or
    transaction as its ledger row (billing.ledger), so "this cycle"
    (billing.selectors.cycle_usage, the included credits left, a cycle's close) and the
    Billing page's recent movements sum at most 31 days of rows instead of the ledger's. The day is the ledger row's `created_at` day in UTC.
    """

    # No index of its own: the unique constraint leads with it.
    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="+", db_index=False)
    day = models.DateField()
    shard = models.PositiveSmallIntegerField()
    charged_micro = models.BigIntegerField(default=0)
    # How many usage ledger rows the day's charges are: the Billing page's "N requests" line
    # of a day, which counting the ledger's rows of 30 days took 730 ms at 10 M events.
    charges = models.BigIntegerField(default=0, db_default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "day", "shard"], name="one_usage_day_shard"),
        ]

    def __str__(self):
        return f"{self.workspace_id} {self.day} #{self.shard}"


class InvoiceStatus(models.TextChoices):
    PAID = "paid", "Paid"
    OPEN = "open", "Open"
    VOID = "void", "Void"


class InvoiceCounter(models.Model):
    """The one row invoice numbers are allocated from (locked by the UPDATE that bumps it).

    A counter row rather than the primary key: ids have gaps after a rollback, and invoice
    numbers must not.
    """

    last_number = models.PositiveBigIntegerField(default=0)


class Invoice(models.Model):
    """What a workspace owes or paid: a cycle close (fee, overage) or a credit purchase.

    At most one invoice per cycle (unique `cycle`) and per outside reference (unique
    `reference`, e.g. a Stripe payment id), so a job or webhook that runs twice invoices once.
    """

    number = models.CharField(max_length=20, unique=True, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="invoices")
    status = models.CharField(max_length=8, choices=InvoiceStatus.choices, default=InvoiceStatus.OPEN)
    issued_on = models.DateField()
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    cycle = models.OneToOneField(
        BillingCycle, on_delete=models.PROTECT, null=True, blank=True, related_name="invoice"
    )
    reference = models.CharField(max_length=200, unique=True, null=True, blank=True)
    subtotal_cents = models.BigIntegerField(default=0)
    discount_cents = models.BigIntegerField(default=0, help_text="Volume discounts (negative or 0).")
    total_cents = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3, default="usd", editable=False)
    memo = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)
    # Both parties as they were when the invoice was issued: a later change of the seller's
    # settings or the customer's billing details never rewrites an issued invoice.
    seller_name = models.CharField(max_length=200, blank=True)
    seller_address = models.TextField(blank=True)
    customer_name = models.CharField(max_length=200, blank=True)
    customer_address = models.TextField(blank=True)
    customer_country = models.CharField(max_length=2, blank=True)
    customer_tax_id = models.CharField(max_length=32, blank=True)
    customer_email = models.EmailField(blank=True)

    class Meta:
        ordering = ["-issued_on", "-number"]
        indexes = [models.Index(fields=["workspace", "issued_on"])]

    def __str__(self):
        return self.number


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(default=0)
    description = models.CharField(max_length=200)
    quantity = models.DecimalField(max_digits=20, decimal_places=6, default=1)
    unit = models.CharField(max_length=20, blank=True, help_text="credit, month, …")
    unit_amount_usd = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    amount_cents = models.BigIntegerField(help_text="Negative for a discount.")

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return self.description


# The paid side of plans lives in its own module (kept under the file-size limit).
from billing.models_plans import (  # noqa: E402,F401
    AutoRecharge, RechargeAttempt, RechargeStatus, SalesRequest, Subscription,
)
# Billing details (who invoices are made out to) live in their own module too.
from billing.details_models import BillingDetails  # noqa: E402,F401
# Alerts and their sends (billing.alerts) live in their own module too.
from billing.models_alerts import (  # noqa: E402,F401
    Alert, AlertKind, AlertOptOut, AlertSend, AlertSettings,
)
# Payment records live in their own module; importing them here registers them with Django.
from billing.payment_models import (  # noqa: E402,F401
    CreditNote, CreditNoteKind, CreditPack, Payment, PaymentCustomer, PaymentKind, PaymentStatus,
    SandboxObject, SavedCard, WebhookEvent, WebhookStatus,
)
