from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self):
        from billing import payments, receivers, sandbox  # noqa: F401

        # payments never imports the sandbox (which hands its events to the webhook code
        # that calls payments); it is given the sandbox here and uses it without a key.
        payments.sandbox_install(sandbox.respond)
