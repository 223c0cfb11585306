from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self):
        from billing import receivers  # noqa: F401
        from billing.credits import credits_listener_add
        from billing.recharge import auto_recharge_listener

        credits_listener_add(auto_recharge_listener)  # a charge below the threshold enqueues a recharge
