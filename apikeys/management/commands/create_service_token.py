from django.core.management.base import BaseCommand, CommandError

from apikeys.services import service_token_create


class Command(BaseCommand):
    help = "Make a service token for the inference gateway and print it once."

    def add_arguments(self, parser):
        parser.add_argument("name", help="What uses the token, e.g. 'gateway-eu-1'.")

    def handle(self, *args, name, **options):
        if not name.strip():
            raise CommandError("Give the token a name.")
        token, secret = service_token_create(name=name)
        self.stderr.write(
            f"Service token “{token.name}” created. It is shown only now; only its hash is stored."
        )
        self.stdout.write(secret)
