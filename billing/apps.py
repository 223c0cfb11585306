from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self):
        from billing import payments, receivers, sandbox
        from billing import sandbox_plans  # noqa: F401  (the sandbox's subscriptions and invoices)
        from billing.credits import credits_listener_add

        # payments never imports the sandbox (which hands its events to the webhook code
        # that calls payments); it is given the sandbox here and uses it without a key.
        payments.sandbox_install(sandbox.respond)
        credits_listener_add(receivers.auto_recharge_listener)  # below the threshold: one recharge job
        credits_listener_add(receivers.alerts_listener)  # low balance, zero, overage: one check job
