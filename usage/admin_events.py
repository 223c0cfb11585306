"""Admin for metered usage: events (read-only) and the unpriced events staff must price.

Registered from UsageConfig.ready().
"""

from django.contrib import admin, messages

from usage.models import DailyUsage, UnpricedUsageEvent, UsageEvent
from config.api import ApiError
from config.admin import ReadOnlyAdmin
from usage.repricing import unpriced_event_charge


@admin.register(UsageEvent)
class UsageEventAdmin(ReadOnlyAdmin):
    list_display = ("event_id", "workspace", "product", "tier", "status_code", "billed", "charged_micro", "received_at")
    list_filter = ("billed", "not_billed_reason", "status_code")
    search_fields = ("event_id", "product", "workspace__slug", "key__public_id")
    date_hierarchy = "received_at"
    list_select_related = ("workspace",)
    show_full_result_count = False  # the table is big; counting it on every page is not


@admin.register(UnpricedUsageEvent)
class UnpricedUsageEventAdmin(ReadOnlyAdmin):
    list_display = ("event_id", "workspace", "product", "quantity", "unpriced_reason", "received_at")
    search_fields = ("event_id", "product", "workspace__slug")
    list_select_related = ("workspace",)
    actions = ["charge_now"]

    def get_queryset(self, request):
        return super().get_queryset(request).unpriced()

    @admin.action(description="Charge the selected events with today's prices (add the price first)")
    def charge_now(self, request, queryset):
        charged, still_unknown = 0, []
        for usage_event in queryset:
            try:
                if unpriced_event_charge(usage_event):
                    charged += 1
            except ApiError:  # still no price (unknown_product) or the event no longer parses
                still_unknown.append(usage_event.product)
        if charged:
            self.message_user(request, f"Charged {charged} event(s) through the ledger.", messages.SUCCESS)
        if still_unknown:
            self.message_user(
                request,
                f"No price matches yet for: {', '.join(sorted(set(still_unknown)))}. Add a price "
                "under Prices, then charge again.",
                messages.WARNING,
            )


@admin.register(DailyUsage)
class DailyUsageAdmin(ReadOnlyAdmin):
    list_display = ("workspace", "day", "key", "product", "requests", "credits_micro")
    list_filter = ("day",)
    search_fields = ("workspace__slug", "product")
