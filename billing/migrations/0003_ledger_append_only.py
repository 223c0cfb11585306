"""Enforce in the database that ledger rows are never updated (or, on PostgreSQL, deleted).

SQLite gets the UPDATE guard only: test teardown there empties tables with DELETE, whereas
PostgreSQL's TRUNCATE does not fire row triggers.
"""

from django.db import migrations

PG_UP = """
CREATE OR REPLACE FUNCTION billing_ledger_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'billing_ledgerentry is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER billing_ledger_no_update BEFORE UPDATE OR DELETE ON billing_ledgerentry
  FOR EACH ROW EXECUTE FUNCTION billing_ledger_append_only();
"""
PG_DOWN = """
DROP TRIGGER IF EXISTS billing_ledger_no_update ON billing_ledgerentry;
DROP FUNCTION IF EXISTS billing_ledger_append_only();
"""
SQLITE_UP = """
CREATE TRIGGER billing_ledger_no_update BEFORE UPDATE ON billing_ledgerentry
BEGIN SELECT RAISE(ABORT, 'billing_ledgerentry is append-only: UPDATE refused'); END;
"""
SQLITE_DOWN = "DROP TRIGGER IF EXISTS billing_ledger_no_update;"


def up(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(PG_UP)
    else:
        schema_editor.execute(SQLITE_UP)


def down(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(PG_DOWN if schema_editor.connection.vendor == "postgresql" else SQLITE_DOWN)


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_load_plans")]
    operations = [migrations.RunPython(up, down)]
