from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self):
        from billing import receivers
        from billing import sandbox_plans  # noqa: F401  (the sandbox's subscriptions and invoices)
        from billing.credits import credits_listener_add

        credits_listener_add(receivers.auto_recharge_listener)  # below the threshold: one recharge job
