"""The price catalog now belongs to the `pricing` app (its 0001): usage stops recording it.

State only: the tables stay, under their names, owned by pricing.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('usage', '0004_drop_redundant_workspace_index'),
        ('pricing', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(database_operations=[], state_operations=[
            migrations.RemoveField(
                model_name='pricerate',
                name='price',
            ),
            migrations.DeleteModel(
                name='CustomModel',
            ),
            migrations.DeleteModel(
                name='Price',
            ),
            migrations.DeleteModel(
                name='PriceRate',
            ),
        ]),
    ]
