"""What was metered: one row per gateway usage event, its idempotency key, daily roll-ups,
the roll-up watermark.

UsageEvent rows are written once by usage.services and changed afterwards only when staff
price an unpriced event or the retention purge drops metadata. What makes an event id count
once per workspace is the insert of its UsageEventKey in the same statement or transaction.
On PostgreSQL the events table is partitioned by month of `received_at` (usage.partitions),
and a unique index there would have to include that column: hence the keys' own table.
Money is integer micro-credits.
"""

from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone

from teams.models import Workspace

__all__ = [
    "UsageEvent", "UsageEventKey", "UnpricedUsageEvent", "DailyUsage", "RollupState",
    "NotBilledReason", "IDEMPOTENCY_DAYS",
]

# docs/api.md: a replay is recognised for at least 35 days (usage_purge keeps keys that long).
IDEMPOTENCY_DAYS = 35


class NotBilledReason(models.TextChoices):
    CLIENT_ERROR = "client_error", "Client error (4xx)"
    SERVER_ERROR = "server_error", "Server error (5xx)"
    UNKNOWN_PRODUCT = "unknown_product", "Unpriced: no price matched"
    FREE = "free", "Priced at zero"


class UsageEventQuerySet(models.QuerySet):
    def unpriced(self):
        return self.filter(not_billed_reason=NotBilledReason.UNKNOWN_PRODUCT, charged_at__isnull=True)


class UsageEvent(models.Model):
    # No index of its own: (workspace, event_id) and (workspace, received_at) lead with it,
    # and every index is paid for on each insert of the usage hot path.
    # No foreign key may point at this model: on PostgreSQL its primary key is
    # (id, received_at), the partition key being part of every unique index
    # (tests/usage/test_partitions.py holds the rule).
    workspace = models.ForeignKey(
        Workspace, on_delete=models.PROTECT, related_name="usage_events", db_index=False
    )
    key = models.ForeignKey(
        "apikeys.APIKey", on_delete=models.PROTECT, related_name="usage_events"
    )
    event_id = models.CharField(max_length=200, help_text="The gateway's request id.")
    product = models.CharField(max_length=200)
    tier = models.CharField(max_length=8, blank=True)
    grounding = models.BooleanField(default=False)
    quantity = models.JSONField(default=dict, help_text="Units as decimal strings.")
    lines = models.JSONField(null=True, blank=True, help_text="A workflow's parts, if any.")
    status_code = models.PositiveSmallIntegerField(default=200)
    queue_seconds = models.CharField(max_length=40, blank=True, help_text="Recorded, never billed.")
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    # When the ledger was charged: the day and cycle the charge belongs to (docs/design.md).
    charged_at = models.DateTimeField(null=True, blank=True)
    # Moves whenever a row changes in a way the roll-up must see (insert, late pricing).
    touched_at = models.DateTimeField(default=timezone.now)
    price_versions = models.JSONField(default=list, blank=True)
    breakdown = models.JSONField(default=list, blank=True)
    charged_micro = models.BigIntegerField(default=0)
    billed = models.BooleanField(default=False)
    not_billed_reason = models.CharField(
        max_length=20, choices=NotBilledReason.choices, blank=True
    )
    unpriced_reason = models.CharField(max_length=300, blank=True)
    body_hash = models.CharField(max_length=64, help_text="SHA-256 of the parsed body.")
    response_status = models.PositiveSmallIntegerField(default=200)
    response = models.JSONField(help_text="The first answer, returned again on a replay.")
    metadata = models.JSONField(null=True, blank=True)
    metadata_expires_at = models.DateTimeField(null=True, blank=True)

    objects = UsageEventQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            # Not unique (UsageEventKey is): finding an event by its id (receipts, replays
            # older than the keys) for as long as it is kept.
            models.Index(fields=["workspace", "event_id"], name="usage_event_ws_event"),
            # Everything else reads by (workspace, time): on PostgreSQL `received_at` is the
            # partition key, so a time range reads only its months.
            models.Index(fields=["workspace", "received_at"], name="usage_event_ws_received"),
            models.Index(fields=["touched_at"], name="usage_event_touched"),
            # An event's activity (its charge, else its receipt) per workspace: the roll-up
            # reads a day by it and the pages read the events after the roll-up's watermark.
            models.Index(
                "workspace", Coalesce("charged_at", "received_at"), name="usage_event_ws_activity",
            ),
            models.Index(fields=["received_at"], name="usage_event_received"),
            models.Index(
                fields=["metadata_expires_at"], name="usage_event_meta_expiry",
                condition=models.Q(metadata_expires_at__isnull=False),
            ),
            models.Index(
                fields=["received_at"], name="usage_event_unpriced",
                condition=models.Q(not_billed_reason="unknown_product", charged_at__isnull=True),
            ),
        ]

    def __str__(self):
        return f"{self.event_id} ({self.product})"

    @property
    def is_unpriced(self):
        return self.not_billed_reason == NotBilledReason.UNKNOWN_PRODUCT and self.charged_at is None


class UsageEventKey(models.Model):
    """An event id recorded for a workspace: inserted in the same statement (PostgreSQL) or
    transaction as its UsageEvent, ON CONFLICT DO NOTHING, so a twin writes and charges
    nothing. Kept IDEMPOTENCY_DAYS (usage.rollup.usage_purge); later, the ledger's unique
    reference `usage:<workspace>:<event id>` still refuses a second charge (usage.storage).
    Never partitioned: the unique index must not include the time."""

    pk = models.CompositePrimaryKey("workspace_id", "event_id")
    # No database foreign key: the event row written with it has one, and each checked
    # constraint costs the hot path.
    workspace = models.ForeignKey(
        Workspace, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    event_id = models.CharField(max_length=200)
    # The event's own received_at: its partition, and when the key may go.
    received_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["received_at"], name="usage_event_key_received")]

    def __str__(self):
        return f"{self.workspace_id}:{self.event_id}"


class UnpricedUsageEvent(UsageEvent):
    """The admin's list of events no price matched (a proxy: same table)."""

    class Meta:
        proxy = True
        verbose_name = "unpriced usage event"


class DailyUsage(models.Model):
    """Usage per (workspace, day, key, product), built by usage.rollup from the events.

    `day` is the UTC day of the ledger charge (received time for unbilled events).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="daily_usage")
    day = models.DateField()
    key = models.ForeignKey(
        "apikeys.APIKey", on_delete=models.CASCADE, null=True, related_name="daily_usage"
    )
    product = models.CharField(max_length=200)
    requests = models.PositiveIntegerField(default=0)
    billed_requests = models.PositiveIntegerField(default=0)
    quantity = models.JSONField(default=dict, help_text="Summed units as decimal strings.")
    credits_micro = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["day", "product"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "day", "key", "product"], name="one_rollup_row"
            ),
        ]
        indexes = [models.Index(fields=["workspace", "day"], name="daily_usage_ws_day")]
        verbose_name_plural = "daily usage"

    def __str__(self):
        return f"{self.workspace_id} {self.day} {self.product}"


class RollupState(models.Model):
    """One row: events touched at or after `watermark` (minus a margin) are not rolled up yet."""

    name = models.CharField(max_length=40, unique=True, default="daily")
    watermark = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_days = models.PositiveIntegerField(default=0)
