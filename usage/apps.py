from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "usage"

    def ready(self):
        # Price edits clear the shared catalog stamp so every process reloads its prices.
        from usage import catalog  # noqa: F401
        from usage import admin_events  # noqa: F401  (metering's admin: events, unpriced events)
