import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from teams.models import Workspace


def _public_id():
    return f"key_{secrets.token_hex(12)}"


class APIKeyQuerySet(models.QuerySet):
    def active(self, at=None):
        at = at or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=at)
        )


class APIKey(models.Model):
    """A customer's key. Only its SHA-256 hash and a short visible prefix are stored."""

    public_id = models.CharField(max_length=40, unique=True, default=_public_id, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=24, help_text="The first characters, shown in lists.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    spend_cap_credits = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Credits this key may spend per billing cycle; empty: no cap."
    )
    # The one-time value of the page's create form that made this key: a second submission
    # of that form (a reload, a double click) hits the unique constraint and makes nothing.
    creation_nonce = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)

    objects = APIKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    def is_expired(self, at=None):
        return self.expires_at is not None and self.expires_at <= (at or timezone.now())

    @property
    def is_active(self):
        return self.revoked_at is None and not self.is_expired()

    @property
    def status(self):
        if self.revoked_at is not None:
            return "revoked"
        if self.is_expired():
            return "expired"
        return "active"


class KeySpend(models.Model):
    """Credits a key spent in one billing cycle (usage adds to it after each charge)."""

    key = models.ForeignKey(APIKey, on_delete=models.CASCADE, related_name="spends")
    cycle_start = models.DateTimeField()
    spent_micro = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "cycle_start"], name="one_spend_row_per_cycle")
        ]


class ServiceToken(models.Model):
    """A credential of the inference gateway for /api/v1/gateway/…; stored hashed."""

    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=24)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"
