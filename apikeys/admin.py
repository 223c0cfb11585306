from django.contrib import admin, messages

from apikeys.models import APIKey, ServiceToken
from apikeys.services import service_tokens_revoke


@admin.register(APIKey)
class APIKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "public_id", "workspace", "created_by", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "public_id", "workspace__slug")
    # Keys are made and revoked by their workspace on the API Keys page; staff only look.
    readonly_fields = [f.name for f in APIKey._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(ServiceToken)
class ServiceTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("name", "prefix", "token_hash", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # `manage.py create_service_token NAME` makes them and prints the secret once

    @admin.action(description="Revoke selected service tokens")
    def revoke(self, request, queryset):
        count = service_tokens_revoke(queryset)
        self.message_user(request, f"Revoked {count} service token(s).", messages.SUCCESS)
