"""Every plan that may overspend has an overage limit (docs/design.md): enterprise had none.

Plans that allow overage without a default get 1,000,000 credits (USD 10,000), and each
existing workspace on such a plan without a limit of its own gets that default, or twice
its current overage where that is more, so no workspace is refused the moment this runs.
"""

from django.db import migrations
from django.db.models import Sum

DEFAULT_LIMIT = 1_000_000  # credits; billing.models.ENTERPRISE_DEFAULT_OVERAGE_LIMIT
MICRO = 1_000_000


def limits_set(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    BillingAccount = apps.get_model("billing", "BillingAccount")
    LedgerEntry = apps.get_model("billing", "LedgerEntry")
    Plan.objects.filter(overage_allowed=True, default_overage_limit__isnull=True).update(
        default_overage_limit=DEFAULT_LIMIT
    )
    accounts = BillingAccount.objects.filter(plan__overage_allowed=True, overage_limit__isnull=True)
    for account in accounts.select_related("plan"):
        balance = LedgerEntry.objects.filter(workspace_id=account.workspace_id).aggregate(
            s=Sum("amount_micro"))["s"] or 0
        overage_credits = -(balance // MICRO) if balance < 0 else 0  # whole credits, rounded up
        account.overage_limit = max(account.plan.default_overage_limit, 2 * overage_credits)
        account.save(update_fields=["overage_limit"])


class Migration(migrations.Migration):
    dependencies = [("billing", "0006_drop_redundant_workspace_index")]
    operations = [migrations.RunPython(limits_set, migrations.RunPython.noop)]
