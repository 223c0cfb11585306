"""Staff tools: plans, per-workspace terms, the read-only ledger with adjustments, invoices."""

import uuid

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from billing.forms import AdjustmentForm, BillingAccountAdminForm, PlanAdminForm
from billing.payment_admin import CreditNoteInline, refund_invoices
from billing.ledger import ledger_post
from billing.models import BillingAccount, BillingCycle, EntryKind, Invoice, InvoiceLine, LedgerEntry, Plan
from billing.money import credits_to_micro, format_credits
from billing.services import plan_change
from config.admin import ReadOnlyAdmin
from config.flash import refusal_flashed


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    form = PlanAdminForm
    list_display = ["code", "name", "price_cents", "included_credits", "requests_per_minute",
                    "overage_allowed", "default_overage_limit", "is_public", "sort_order"]
    list_editable = ["is_public", "sort_order"]
    fieldsets = (
        (None, {"fields": ("code", "name", "is_public", "sort_order")}),
        ("Price and credits", {"fields": ("price_cents", "price_is_custom", "included_credits", "one_time_credits")}),
        ("Limits", {"fields": ("requests_per_minute", "custom_models_allowed", "overage_allowed",
                               "default_overage_limit", "metadata_retention_days")}),
        ("Descriptive rows", {"fields": ("billing_summary", "support", "compliance", "deployments",
                                         "service_level", "data_retention")}),
    )

    def has_delete_permission(self, request, obj=None):
        return False  # accounts and cycles point at plans; hide one with is_public instead


@admin.register(BillingAccount)
class BillingAccountAdmin(admin.ModelAdmin):
    form = BillingAccountAdminForm
    list_display = ["workspace", "plan", "billing_mode", "scheduled_plan", "overage_limit", "cycle_anchor_day"]
    list_filter = ["plan", "billing_mode"]
    search_fields = ["workspace__name", "workspace__slug"]
    readonly_fields = ["workspace", "scheduled_plan", "cycle_anchor_day", "updated_at"]
    fieldsets = (
        (None, {"fields": ("workspace", "plan", "scheduled_plan", "billing_mode", "cycle_anchor_day", "updated_at"),
                "description": "Changing the plan here upgrades at once (the cycle closes early and a new one "
                               "starts with the new plan's credits) or schedules a downgrade for the cycle's end."}),
        ("Enterprise terms (empty: the plan's value)", {"fields": (
            "custom_fee_cents", "custom_included_credits", "custom_requests_per_minute", "unlimited_rate",
            "overage_limit", "volume_tiers", "fee_billed_by_stripe")}),
    )

    def has_add_permission(self, request):
        return False  # every workspace gets its account when it is created

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        new_plan = obj.plan
        if change and "plan" in form.changed_data:
            obj.plan = BillingAccount.objects.get(pk=obj.pk).plan
        obj.save()
        if change and "plan" in form.changed_data:
            with refusal_flashed(request):
                result = plan_change(workspace=obj.workspace, plan=new_plan, actor=request.user, by_staff=True)
                when = "now" if result.kind == "upgraded" else f"on {result.effective_at:%d %b %Y}"
                messages.success(request, f"{obj.workspace} moves to {new_plan.name} {when}.")
                obj.refresh_from_db()


@admin.register(BillingCycle)
class BillingCycleAdmin(ReadOnlyAdmin):
    list_display = ["workspace", "plan", "start", "end", "closed_at"]
    list_filter = ["closed_at"]
    search_fields = ["workspace__slug"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    """Read-only: rows are never edited. "Add" is the staff adjustment form."""

    list_display = ["created_at", "workspace", "kind", "credits", "reference", "memo", "created_by"]
    list_filter = ["kind"]
    search_fields = ["workspace__slug", "reference", "memo"]
    date_hierarchy = "created_at"

    @admin.display(description="Credits")
    def credits(self, obj):
        return format_credits(obj.amount_micro)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        form = AdjustmentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            workspace = form.cleaned_data["workspace"]
            posting = ledger_post(
                workspace=workspace, kind=EntryKind.ADJUSTMENT,
                amount_micro=credits_to_micro(form.cleaned_data["credits"]),
                reference=f"adjustment:{uuid.uuid4()}", memo=form.cleaned_data["memo"], actor=request.user,
            )
            messages.success(
                request,
                f"Adjusted {workspace} by {format_credits(posting.entry.amount_micro)} credits; "
                f"balance now {format_credits(posting.balance_micro)}.",
            )
            return HttpResponseRedirect(reverse("admin:billing_ledgerentry_changelist"))
        context = {
            **self.admin_site.each_context(request), "form": form, "opts": self.model._meta,
            "title": "Staff credit adjustment",
        }
        return TemplateResponse(request, "billing/admin_adjustment.html", context)


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    readonly_fields = ["description", "quantity", "unit", "unit_amount_usd", "amount_cents"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    """Invoices are written by the close job and purchases; staff may only mark one paid or void."""

    list_display = ["number", "workspace", "issued_on", "total_cents", "status"]
    list_filter = ["status"]
    search_fields = ["number", "workspace__slug"]
    inlines = [InvoiceLineInline, CreditNoteInline]
    actions = [refund_invoices]
    readonly_fields = ["number", "workspace", "issued_on", "period_start", "period_end", "cycle", "reference",
                       "subtotal_cents", "discount_cents", "total_cents", "currency", "memo", "created_at", "paid_at",
                       # Both parties as issued: never edited afterwards, not even by staff.
                       "seller_name", "seller_address", "customer_name", "customer_address", "customer_country",
                       "customer_tax_id", "customer_email"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if obj.status == "paid" and obj.paid_at is None:
            from django.utils import timezone

            obj.paid_at = timezone.now()
        super().save_model(request, obj, form, change)


from billing import admin_plans  # noqa: E402,F401  (registers the paid side's admin pages)
