from django.core.management.base import BaseCommand, CommandError

from billing.ledger import ledger_mismatches
from billing.models import LedgerEntry
from billing.money import format_credits
from teams.models import Workspace


class Command(BaseCommand):
    help = "Verify that every workspace's balance (its shards) equals the sum of its ledger."

    def handle(self, *args, **options):
        mismatches = ledger_mismatches()
        names = dict(Workspace.objects.filter(pk__in=[m[0] for m in mismatches]).values_list("pk", "slug"))
        bad = [
            f"{names.get(workspace_id, workspace_id)}: balance {format_credits(balance)} "
            f"!= ledger sum {format_credits(expected)} credits"
            for workspace_id, balance, expected in mismatches
        ]
        for line in bad:
            self.stderr.write(line)
        if bad:
            raise CommandError(f"{len(bad)} workspace(s) out of balance: " + "; ".join(bad))
        checked = LedgerEntry.objects.values("workspace_id").distinct().count()
        self.stdout.write(self.style.SUCCESS(f"Ledger OK: {checked} workspace(s) checked, all balanced."))
