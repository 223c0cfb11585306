from django.core.management.base import BaseCommand, CommandError
from django.db.models import Sum

from billing.models import BalanceShard, LedgerEntry
from billing.money import format_credits
from teams.models import Workspace


class Command(BaseCommand):
    help = "Verify that every workspace's balance (its shards) equals the sum of its ledger."

    def handle(self, *args, **options):
        ledger = dict(
            LedgerEntry.objects.values("workspace_id").annotate(s=Sum("amount_micro")).values_list("workspace_id", "s")
        )
        shards = dict(
            BalanceShard.objects.values("workspace_id").annotate(s=Sum("balance_micro")).values_list("workspace_id", "s")
        )
        ids = set(ledger) | set(shards)
        names = dict(Workspace.objects.filter(pk__in=ids).values_list("pk", "slug"))
        bad = []
        for workspace_id in sorted(ids):
            expected, shown = ledger.get(workspace_id) or 0, shards.get(workspace_id) or 0
            if expected != shown:
                bad.append(
                    f"{names.get(workspace_id, workspace_id)}: balance {format_credits(shown)} "
                    f"!= ledger sum {format_credits(expected)} credits"
                )
        for line in bad:
            self.stderr.write(line)
        if bad:
            raise CommandError(f"{len(bad)} workspace(s) out of balance: " + "; ".join(bad))
        self.stdout.write(self.style.SUCCESS(f"Ledger OK: {len(ids)} workspace(s) checked, all balanced."))
