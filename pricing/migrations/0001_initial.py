"""The price catalog moves from `usage` to this app: its models change owner, not table.

The tables were made by usage's migrations 0001-0002 and keep their names (each model's
`db_table`), so this migration only changes Django's record of who owns them
(SeparateDatabaseAndState with no database operation) and relabels their content types,
which keeps staff permissions and the admin's history. usage 0005 drops them from usage's
record. A database at any earlier state migrates forward with its prices intact.
"""

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

MODELS = ("price", "pricerate", "custommodel")


def content_types_relabel(apps, source, target):
    """Give the catalog's content types (and so their permissions) to the app that owns them."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        old = ContentType.objects.filter(app_label=source, model=model).first()
        if old is None:
            continue  # a new database: post_migrate makes them under the right app
        # A `migrate` run in between may have made empty twins under the target app; the
        # old row wins because permissions and the admin's log point at it.
        ContentType.objects.filter(app_label=target, model=model).delete()
        old.app_label = target
        old.save(update_fields=["app_label"])


def content_types_to_pricing(apps, schema_editor):
    content_types_relabel(apps, "usage", "pricing")


def content_types_to_usage(apps, schema_editor):
    content_types_relabel(apps, "pricing", "usage")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('teams', '0001_initial'),
        ('usage', '0002_load_prices'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(content_types_to_pricing, content_types_to_usage),
        migrations.SeparateDatabaseAndState(database_operations=[], state_operations=[
            migrations.CreateModel(
                name='Price',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('product', models.CharField(db_index=True, help_text='An exact product (document.markdown), a wildcard (document.*), or * for the GPU-seconds fallback of any model without a price of its own.', max_length=120)),
                    ('unit', models.CharField(choices=[('page', 'page'), ('image', 'image'), ('megapixel', 'megapixel of output'), ('audio_second', 'second of audio'), ('video_second', 'second of video'), ('generated_video_second', 'second of generated video'), ('video', 'generated video'), ('request', 'request'), ('input_token', 'input token'), ('output_token', 'output token'), ('gpu_second', 'GPU second'), ('inference_second', 'inference second')], max_length=32)),
                    ('meter', models.CharField(help_text='The meter named on receipts, e.g. document, llm, gpu.', max_length=60)),
                    ('scheme', models.CharField(choices=[('flat', 'One price per unit'), ('tiered', 'Tiers lo / auto / hi'), ('rates', 'A rate per instance size or GPU machine type')], max_length=10)),
                    ('price', models.DecimalField(blank=True, decimal_places=12, help_text='Flat: credits per unit (or per segment).', max_digits=24, null=True)),
                    ('price_lo', models.DecimalField(blank=True, decimal_places=12, help_text='Tiered: credits per unit on lo.', max_digits=24, null=True)),
                    ('price_auto', models.DecimalField(blank=True, decimal_places=12, help_text='Tiered: credits per unit on auto (the default).', max_digits=24, null=True)),
                    ('price_hi', models.DecimalField(blank=True, decimal_places=12, help_text='Tiered: credits per unit on hi.', max_digits=24, null=True)),
                    ('grounding_price', models.DecimalField(blank=True, decimal_places=12, help_text='Credits per unit for the grounding add-on; empty: grounding not allowed.', max_digits=24, null=True)),
                    ('segment_seconds', models.PositiveIntegerField(blank=True, help_text='Bill per started segment of this many seconds (300 for 5 minutes).', null=True)),
                    ('effective_from', models.DateTimeField(default=django.utils.timezone.now, help_text='When this version takes effect; a later one can be scheduled ahead.')),
                    ('is_public', models.BooleanField(default=True, help_text='Listed on /pricing and the API.')),
                    ('is_example', models.BooleanField(default=False, help_text='An example rate (marked as such on /pricing).')),
                    ('description', models.CharField(blank=True, max_length=200)),
                    ('sort_order', models.PositiveSmallIntegerField(default=100)),
                    ('created_at', models.DateTimeField(auto_now_add=True)),
                    ('updated_at', models.DateTimeField(auto_now=True)),
                ],
                options={
                    'db_table': 'usage_price',
                    'ordering': ['sort_order', 'product', 'unit', 'effective_from'],
                    'constraints': [models.UniqueConstraint(fields=('product', 'unit', 'effective_from'), name='one_price_version_per_time')],
                },
            ),
            migrations.CreateModel(
                name='CustomModel',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('name', models.CharField(max_length=80, validators=[django.core.validators.RegexValidator('^[a-z0-9][a-z0-9._-]*$', 'Use lower-case letters, digits, dots, dashes and underscores.')])),
                    ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                    ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ('workspace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='custom_models', to='teams.workspace')),
                ],
                options={
                    'db_table': 'usage_custommodel',
                    'ordering': ['created_at', 'id'],
                    'constraints': [models.UniqueConstraint(fields=('workspace', 'name'), name='one_custom_model_per_name')],
                },
            ),
            migrations.CreateModel(
                name='PriceRate',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('key', models.SlugField(help_text='micro, xs, … super; or a GPU type (a100-80gb).', max_length=40)),
                    ('label', models.CharField(blank=True, max_length=60)),
                    ('gpu_ram_gb', models.PositiveIntegerField(blank=True, null=True)),
                    ('unit_price', models.DecimalField(decimal_places=12, max_digits=24)),
                    ('sort_order', models.PositiveSmallIntegerField(default=0)),
                    ('price', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='rates', to='pricing.price')),
                ],
                options={
                    'db_table': 'usage_pricerate',
                    'ordering': ['sort_order', 'key'],
                    'constraints': [models.UniqueConstraint(fields=('price', 'key'), name='one_rate_per_key')],
                },
            ),
        ]),
    ]
