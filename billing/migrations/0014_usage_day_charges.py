from django.db import migrations, models


def backfill(apps, schema_editor):
    """How many usage ledger rows each (workspace, UTC day) holds, on its shard 0 (made when
    missing): the count the Billing page's day lines show from now on."""
    from django.db.models import Count
    from django.db.models.functions import TruncDate

    LedgerEntry = apps.get_model("billing", "LedgerEntry")
    UsageDayTotal = apps.get_model("billing", "UsageDayTotal")
    days = (
        LedgerEntry.objects.filter(kind="usage").annotate(day=TruncDate("created_at"))
        .values("workspace_id", "day").annotate(n=Count("id")).order_by()
    )
    UsageDayTotal.objects.bulk_create(
        [UsageDayTotal(workspace_id=row["workspace_id"], day=row["day"], shard=0, charged_micro=0, charges=row["n"])
         for row in days.iterator()],
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["workspace", "day", "shard"],
        update_fields=["charges"],
    )


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0013_alerts'),
    ]

    operations = [
        # db_default: the processes still running the previous release insert day totals
        # without this column during a rolling deploy.
        migrations.AddField(
            model_name='usagedaytotal',
            name='charges',
            field=models.BigIntegerField(default=0, db_default=0),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
