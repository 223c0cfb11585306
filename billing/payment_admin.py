"""Staff tools for payments: packs (data), webhook events with their outcome, payments, cards,
credit notes, and the refund action on invoices (billing.refunds)."""

from django.contrib import admin, messages

from billing.models import CreditNote, CreditPack, Payment, PaymentCustomer, SavedCard, WebhookEvent
from billing.refunds import invoice_refund
from config.admin import ReadOnlyAdmin
from config.flash import Refusal


@admin.register(CreditPack)
class CreditPackAdmin(admin.ModelAdmin):
    list_display = ["credits", "price", "is_active", "sort_order"]
    list_editable = ["is_active", "sort_order"]

    @admin.display(description="Price")
    def price(self, obj):
        return f"USD {obj.price_cents / 100:,.2f}"


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "type", "stripe_id", "status", "attempts", "reason"]
    list_filter = ["status", "type"]
    search_fields = ["stripe_id", "type", "reason"]
    date_hierarchy = "received_at"


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "workspace", "kind", "amount_cents", "credits", "status", "invoice", "failure_reason"]
    list_filter = ["status", "kind"]
    search_fields = ["workspace__slug", "checkout_session_id", "payment_intent_id"]


@admin.register(PaymentCustomer)
class PaymentCustomerAdmin(admin.ModelAdmin):
    list_display = ["workspace", "stripe_id", "billing_email"]
    search_fields = ["workspace__slug", "stripe_id", "billing_email"]
    readonly_fields = ["workspace", "stripe_id", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SavedCard)
class SavedCardAdmin(ReadOnlyAdmin):
    list_display = ["workspace", "brand", "last4", "exp_month", "exp_year", "created_at", "removed_at"]
    search_fields = ["workspace__slug", "stripe_id"]


@admin.register(CreditNote)
class CreditNoteAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "invoice", "kind", "amount_cents", "reason", "reference"]
    list_filter = ["kind"]
    search_fields = ["invoice__number", "reference"]


class CreditNoteInline(admin.TabularInline):
    model = CreditNote
    extra = 0
    can_delete = False
    readonly_fields = fields = ["kind", "amount_cents", "reason", "reference", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.action(description="Refund the selected invoices in full (card payments)")
def refund_invoices(modeladmin, request, queryset):
    for invoice in queryset.select_related("workspace"):
        try:
            note = invoice_refund(invoice=invoice, actor=request.user)
        except Refusal as error:
            messages.error(request, f"{invoice.number}: {error}")
        else:
            messages.success(request, f"{invoice.number}: refunded USD {note.amount_cents / 100:,.2f}.")
