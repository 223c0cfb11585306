"""Alerts: the low-balance threshold of a workspace, each alert raised, each e-mail sent, and
each person's choice to receive them (billing.alerts has the rules)."""

from django.conf import settings
from django.db import models

from teams.models import Workspace


class AlertKind(models.TextChoices):
    LOW_BALANCE = "low_balance", "Low balance"
    ZERO_BALANCE = "zero_balance", "Balance at zero"
    OVERAGE_80 = "overage_80", "80% of the overage limit"
    OVERAGE_100 = "overage_100", "Overage limit reached"
    USAGE_SPIKE = "usage_spike", "Usage spike"


class AlertSettings(models.Model):
    """A workspace's low-balance threshold and where its crossing count stands.

    `generation` counts re-armings: the low-balance and zero alerts are raised once per
    generation, and a balance back above the threshold starts the next one. The row is the
    lock that serializes every check of the workspace.
    """

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="alert_settings")
    low_balance_credits = models.PositiveBigIntegerField(
        null=True, blank=True,
        help_text="Alert below this many credits; empty: 10% of the last cycle's usage (100 on a first cycle).",
    )
    generation = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "alert settings"

    def __str__(self):
        return f"alerts of {self.workspace}"


class Alert(models.Model):
    """One alert raised for a workspace. (workspace, kind, period) is unique, so however many
    charges see the same crossing at once it is raised, and mailed, once. `period` is what
    "once" counts in: a crossing (the settings' generation), a cycle (its start), a day."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    period = models.CharField(max_length=40)
    subject = models.CharField(max_length=200)
    message = models.TextField(help_text="The e-mail's text.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "kind", "period"], name="one_alert_per_period"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} · {self.workspace} · {self.period}"


class AlertSend(models.Model):
    """One e-mail of an alert to one person (`error` when the mail server refused it)."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="sends")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    email = models.EmailField()
    created_at = models.DateTimeField()
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["alert", "email"]
        constraints = [models.UniqueConstraint(fields=["alert", "email"], name="one_send_per_address")]

    def __str__(self):
        return f"{self.alert} → {self.email}"


class AlertOptOut(models.Model):
    """A person who turned one kind of alert off for themselves (every workspace of theirs)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_opt_outs")
    kind = models.CharField(max_length=20, choices=AlertKind.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="one_opt_out_per_kind")]

    def __str__(self):
        return f"{self.user} · no {self.get_kind_display()}"
