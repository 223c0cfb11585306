from django.core.management.base import BaseCommand

from usage.rollup import rollup_run, usage_purge


class Command(BaseCommand):
    help = "Run the usage roll-up now (the job Celery beat runs every 10 minutes), then retention."

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="Recompute every day, not only touched ones.")

    def handle(self, *args, **options):
        days = rollup_run(full=options["full"])
        deleted, cleared = usage_purge()
        self.stdout.write(
            f"Rolled up {days} workspace-day(s); removed {deleted} event(s) past 13 months; "
            f"cleared metadata of {cleared} event(s) past their plan's retention."
        )
