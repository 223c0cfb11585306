from django.core.management.base import BaseCommand
from django.db import transaction

from apikeys import demo as apikeys_demo
from billing import demo as billing_demo
from teams import demo as teams_demo
from usage import demo as usage_demo


class Command(BaseCommand):
    help = "Idempotently make the demo workspace, its people, keys, money and usage."

    def handle(self, *args, **options):
        with transaction.atomic():
            demo = teams_demo.seed()
            billing_demo.seed(demo)
            apikeys_demo.seed(demo)
            usage_demo.seed(demo)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write("Log in with any of these (password: %s):" % teams_demo.PASSWORD)
        for role, email in demo.logins:
            self.stdout.write(f"  {role:<8} {email}")
        self.stdout.write(f"  staff    {teams_demo.STAFF_EMAIL}  (also /admin/)")
