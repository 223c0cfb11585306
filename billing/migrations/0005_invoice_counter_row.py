"""The single invoice-number counter row (billing.invoices.invoice_number_next)."""

from django.db import migrations


def create(apps, schema_editor):
    apps.get_model("billing", "InvoiceCounter").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("billing", "0004_invoices")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
