from datetime import datetime, timezone as dt_timezone

from django.core.management.base import BaseCommand, CommandError

from billing.closing import CycleCloseFailed, cycles_close_due
from billing.invoices import cents_display
from billing.money import format_credits


def _parse(value):
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(f"--at {value!r} is not an ISO 8601 time, e.g. 2026-12-01T00:00:00Z.")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt_timezone.utc)  # cycles are UTC
    return moment


class Command(BaseCommand):
    help = "Close every billing cycle due at --at (default now): the job Celery beat runs hourly."

    def add_arguments(self, parser):
        parser.add_argument("--at", help="ISO 8601 time to close cycles as of (UTC if no offset).")

    def handle(self, *args, at=None, **options):
        moment = _parse(at) if at else None
        try:
            results = cycles_close_due(at=moment)
        except CycleCloseFailed as error:
            raise CommandError(str(error))
        for r in results:
            invoice = f"invoice {r.invoice.number} {cents_display(r.invoice.total_cents)}" if r.invoice else "no invoice"
            self.stdout.write(
                f"{r.cycle.workspace.slug}: closed {r.cycle.start:%Y-%m-%d}–{r.cycle.end:%Y-%m-%d}, "
                f"expired {format_credits(r.expired_micro)}, settled {format_credits(r.settled_micro)}, {invoice}"
            )
        self.stdout.write(self.style.SUCCESS(f"Closed {len(results)} cycle(s)."))
