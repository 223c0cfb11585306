from django.apps import AppConfig


class PricingConfig(AppConfig):
    name = "pricing"

    def ready(self):
        # Price edits clear the shared catalog stamp so every process reloads its prices.
        from pricing import catalog  # noqa: F401
