"""Staff views of enterprise enquiries, auto-recharge, subscriptions and alerts (imported by billing.admin)."""

from django.contrib import admin

from billing.models import (
    Alert, AlertOptOut, AlertSend, AlertSettings, AutoRecharge, RechargeAttempt, SalesRequest, Subscription,
)
from config.admin import ReadOnlyAdmin


@admin.register(SalesRequest)
class SalesRequestAdmin(admin.ModelAdmin):
    list_display = ["created_at", "company", "workspace", "email", "volume", "handled"]
    list_filter = ["handled"]
    list_editable = ["handled"]
    search_fields = ["company", "email", "workspace__name", "workspace__slug"]
    readonly_fields = ["workspace", "requested_by", "email", "company", "volume", "message", "created_at"]

    def has_add_permission(self, request):
        return False  # enquiries come from customers' Billing pages


@admin.register(AutoRecharge)
class AutoRechargeAdmin(ReadOnlyAdmin):
    list_display = ["workspace", "enabled", "threshold_credits", "amount_credits", "monthly_cap", "disabled_reason"]
    list_filter = ["enabled"]
    search_fields = ["workspace__name", "workspace__slug"]


@admin.register(RechargeAttempt)
class RechargeAttemptAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "workspace", "amount_credits", "status", "payment_intent_id", "error"]
    list_filter = ["status"]
    search_fields = ["workspace__name", "workspace__slug", "payment_intent_id"]


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ["workspace", "plan", "status", "cancel_at_period_end", "current_period_end", "problem"]
    list_filter = ["status", "plan"]
    search_fields = ["workspace__name", "workspace__slug", "stripe_id"]


class AlertSendInline(admin.TabularInline):
    model = AlertSend
    fields = ["email", "user", "created_at", "error"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    """Every alert raised (low balance, zero, overage, usage spike) with the e-mails it sent."""

    list_display = ["created_at", "workspace", "kind", "period", "subject", "sent_to"]
    list_filter = ["kind"]
    search_fields = ["workspace__name", "workspace__slug", "subject"]
    inlines = [AlertSendInline]

    @admin.display(description="Sent to")
    def sent_to(self, alert):
        return ", ".join(send.email + (" (failed)" if send.error else "") for send in alert.sends.all())

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("workspace").prefetch_related("sends")


@admin.register(AlertSettings)
class AlertSettingsAdmin(ReadOnlyAdmin):
    list_display = ["workspace", "low_balance_credits", "generation", "updated_at"]
    search_fields = ["workspace__name", "workspace__slug"]


@admin.register(AlertOptOut)
class AlertOptOutAdmin(ReadOnlyAdmin):
    list_display = ["user", "kind"]
    list_filter = ["kind"]
    search_fields = ["user__email"]
