"""A database made before the catalog left `usage` migrates forward and keeps it all.

The catalog's models moved to `pricing` under their old tables; these tests take the test
database back to the state before the move, write there what an old installation has
(a scheduled price, a custom model, a staff member allowed to edit prices) and migrate
forward, as `manage.py migrate` does on an upgrade.
"""

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from pricing.events import parse_event
from pricing.models import CustomModel, Price
from pricing.quote import price_event

OLD_HEAD = ("usage", "0004_drop_redundant_workspace_index")
LATER = datetime(2030, 1, 1, tzinfo=timezone.utc)


def _migrate(targets):
    MigrationExecutor(connection).migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_an_installation_from_before_the_move_keeps_prices_models_and_permissions():
    _migrate([OLD_HEAD, ("pricing", None)])
    old = MigrationExecutor(connection).loader.project_state(OLD_HEAD).apps
    OldPrice = old.get_model("usage", "Price")
    OldContentType = old.get_model("contenttypes", "ContentType")
    price = OldPrice.objects.create(
        product="document.*", unit="page", meter="document", scheme="tiered",
        price_lo=Decimal(1), price_auto=Decimal(3), price_hi=Decimal(5), effective_from=LATER,
    )
    workspace = old.get_model("teams", "Workspace").objects.create(name="Old Co", slug="old-co")
    old.get_model("usage", "CustomModel").objects.create(workspace=workspace, name="invoices-v2")
    staff = old.get_model("accounts", "User").objects.create(email="staff@example.com", is_staff=True)
    change_price = old.get_model("auth", "Permission").objects.get(
        codename="change_price", content_type=OldContentType.objects.get(app_label="usage", model="price"),
    )
    staff.user_permissions.add(change_price)

    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    assert Price.objects.get(pk=price.pk).price_auto == Decimal(3)
    assert [m.product for m in CustomModel.objects.filter(workspace_id=workspace.pk)] == ["custom.invoices-v2"]
    event = parse_event({"product": "document.invoice", "quantity": {"pages": 2}}, gateway=False)
    assert price_event(event, at=LATER).total_micro == 6_000_000  # the scheduled version
    assert get_user_model().objects.get(pk=staff.pk).has_perm("pricing.change_price")


@pytest.mark.django_db
def test_the_models_and_the_migrations_agree():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
