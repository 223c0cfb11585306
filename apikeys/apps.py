from django.apps import AppConfig


class ApikeysConfig(AppConfig):
    name = "apikeys"
    verbose_name = "API keys"

    def ready(self):
        from apikeys import receivers  # noqa: F401
        from apikeys.keycache import spend_states_credits_changed
        from billing.credits import credits_listener_add

        credits_listener_add(spend_states_credits_changed)
