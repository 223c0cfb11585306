"""Admin for the price catalog: prices and their rates, and workspaces' custom models.

A version that is already in force is read-only: charges name it by id, so editing it
would rewrite history. Staff change a price by scheduling a new version ("Schedule a new
version" copies the selected ones to start tomorrow 00:00 UTC, ready to edit).
"""

from datetime import datetime, time, timedelta, timezone as dt_timezone

from django.contrib import admin, messages
from django.db import transaction
from django.utils import timezone

from pricing.models import CustomModel, Price, PriceRate

PRICING_FIELDS = (
    "product", "unit", "meter", "scheme", "price", "price_lo", "price_auto", "price_hi",
    "grounding_price", "segment_seconds", "effective_from",
)


def _in_force(price):
    return price is not None and price.pk is not None and price.effective_from <= timezone.now()


class PriceRateInline(admin.TabularInline):
    model = PriceRate
    extra = 0
    fields = ("key", "label", "gpu_ram_gb", "unit_price", "sort_order")

    def has_change_permission(self, request, obj=None):
        return not _in_force(obj) and super().has_change_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return not _in_force(obj) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not _in_force(obj) and super().has_delete_permission(request, obj)


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    list_display = ("product", "unit", "scheme", "summary", "effective_from", "status", "is_public", "is_example")
    list_filter = ("scheme", "unit", "is_public", "is_example")
    search_fields = ("product", "meter", "description")
    ordering = ("sort_order", "product", "unit", "effective_from")
    inlines = [PriceRateInline]
    actions = ["schedule_new_version"]
    fieldsets = (
        (None, {"fields": ("product", "unit", "meter", "description", "scheme")}),
        ("Price (credits per unit, or per segment)", {"fields": (
            "price", ("price_lo", "price_auto", "price_hi"), "grounding_price", "segment_seconds")}),
        ("Version", {"fields": ("effective_from", "is_public", "is_example", "sort_order")}),
    )

    def get_readonly_fields(self, request, obj=None):
        return PRICING_FIELDS if _in_force(obj) else ()

    def has_delete_permission(self, request, obj=None):
        # A version in force may have been charged with; only scheduled ones can be dropped.
        return not _in_force(obj) and super().has_delete_permission(request, obj)

    @admin.display(description="Price")
    def summary(self, price):
        if price.scheme == "tiered":
            text = f"{price.price_lo.normalize():f} / {price.price_auto.normalize():f} / {price.price_hi.normalize():f}"
        elif price.scheme == "rates":
            text = f"{price.rates.count()} rates"
        else:
            text = f"{price.price.normalize():f}" if price.price is not None else "—"
        if price.grounding_price is not None:
            text += f" (+{price.grounding_price.normalize():f} grounding)"
        return text

    @admin.display(description="Status")
    def status(self, price):
        now = timezone.now()
        if price.effective_from > now:
            return "scheduled"
        later = Price.objects.filter(product=price.product, unit=price.unit,
                                     effective_from__gt=price.effective_from, effective_from__lte=now)
        return "superseded" if later.exists() else "in force"

    @admin.action(description="Schedule a new version (from tomorrow 00:00 UTC)")
    def schedule_new_version(self, request, queryset):
        start = datetime.combine(timezone.now().date() + timedelta(days=1), time(0), tzinfo=dt_timezone.utc)
        made = 0
        with transaction.atomic():
            for price in queryset:
                if Price.objects.filter(product=price.product, unit=price.unit, effective_from=start).exists():
                    continue
                rates = list(price.rates.all())
                price.pk = None
                price.effective_from = start
                price.save()
                PriceRate.objects.bulk_create([
                    PriceRate(price=price, key=r.key, label=r.label, gpu_ram_gb=r.gpu_ram_gb,
                              unit_price=r.unit_price, sort_order=r.sort_order) for r in rates
                ])
                made += 1
        self.message_user(
            request, f"Scheduled {made} new version(s) from {start:%Y-%m-%d %H:%M} UTC; edit them before then.",
            messages.SUCCESS,
        )


@admin.register(CustomModel)
class CustomModelAdmin(admin.ModelAdmin):
    list_display = ("product", "workspace", "created_by", "created_at")
    search_fields = ("name", "workspace__name", "workspace__slug")
    raw_id_fields = ("workspace", "created_by")
