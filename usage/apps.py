from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "usage"

    def ready(self):
        from usage import admin_events  # noqa: F401  (metering's admin: events, unpriced events)
