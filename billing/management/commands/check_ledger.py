from django.core.management.base import BaseCommand, CommandError

from billing.ledger import ledger_mismatches, usage_day_mismatches
from billing.models import LedgerEntry
from billing.money import format_credits
from teams.models import Workspace


class Command(BaseCommand):
    help = ("Verify that every workspace's balance (its shards) equals the sum of its ledger, "
            "and every usage day total its day's usage charges.")

    def handle(self, *args, **options):
        balances = ledger_mismatches()
        days = usage_day_mismatches()
        names = dict(Workspace.objects.filter(
            pk__in={m[0] for m in balances} | {m[0] for m in days}).values_list("pk", "slug"))
        bad = [
            f"{names.get(workspace_id, workspace_id)}: balance {format_credits(balance)} "
            f"!= ledger sum {format_credits(expected)} credits"
            for workspace_id, balance, expected in balances
        ] + [
            f"{names.get(workspace_id, workspace_id)} on {day.isoformat()}: usage day total "
            f"{format_credits(total)} credits in {charges} charges != ledger {format_credits(ledger)} credits "
            f"in {rows} charges"
            for workspace_id, day, (total, charges), (ledger, rows) in days
        ]
        for line in bad:
            self.stderr.write(line)
        if bad:
            raise CommandError(f"{len(bad)} difference(s) from the ledger: " + "; ".join(bad))
        checked = LedgerEntry.objects.values("workspace_id").distinct().count()
        self.stdout.write(self.style.SUCCESS(
            f"Ledger OK: {checked} workspace(s) checked, all balanced; usage day totals agree."))
