from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "usage"

    def ready(self):
        from usage import admin_events  # noqa: F401  (metering's admin: events, unpriced events)
        # billing may not import usage: the Billing page gets its consumption chart from here.
        from billing.page import consumption_chart_register
        from usage.dashboard import cycle_consumption_chart

        consumption_chart_register(cycle_consumption_chart)
