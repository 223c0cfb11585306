from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "usage"

    def ready(self):
        # Price edits clear the shared catalog stamp so every process reloads its prices.
        from usage import catalog  # noqa: F401
