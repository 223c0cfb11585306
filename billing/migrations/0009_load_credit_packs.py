"""The credit packs of the Billing page (staff edit them in the admin afterwards)."""

from django.db import migrations

PACKS = [1_000, 5_000, 20_000, 100_000]


def load(apps, schema_editor):
    CreditPack = apps.get_model("billing", "CreditPack")
    for n, credits in enumerate(PACKS):
        CreditPack.objects.get_or_create(credits=credits, defaults={"sort_order": n})


class Migration(migrations.Migration):
    dependencies = [("billing", "0008_payments")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
