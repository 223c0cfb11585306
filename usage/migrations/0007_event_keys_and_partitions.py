"""Idempotency moves to its own table (UsageEventKey); on PostgreSQL the usage events table
becomes partitioned by month of `received_at`.

A unique index on a partitioned table must include the partition key, so (workspace, event
id) can no longer be unique on the events: the keys' table, never partitioned, holds it.

PostgreSQL only, the conversion of the existing table (rows, ids and indexes kept), in this
migration's transaction under an ACCESS EXCLUSIVE lock (docs/performance.md gives the time
it takes for 10 million events):
- the table is renamed away and its indexes and primary key dropped, freeing their names;
- a partitioned table of the same columns, identity, checks and name takes its place, with
  a default partition (rows of a month without a partition of its own: far back-dated
  events), a partition per month from the oldest row's month (at most 14 months back) to
  three months ahead (then usage.tasks.usage_partitions_ensure creates them, daily);
- the rows are copied, the identity continues after the largest id, the primary key becomes
  (id, received_at) and the old indexes and foreign keys are made again on the new table;
- the keys of the events received in the last 35 days are written;
- a foreign key from another table to the events would have to include `received_at`:
  the conversion refuses to run while one exists (nothing changes) rather than drop it.
SQLite keeps one table; only the keys' table is new there (and filled the same way).

The reverse makes an unpartitioned table again in the same manner.
"""

from datetime import datetime, time, timedelta, timezone

from dateutil.relativedelta import relativedelta
from django.db import migrations, models

TABLE = "usage_usageevent"
OLD = "usage_usageevent_unpartitioned"
MONTHS_AHEAD = 3
MONTHS_BACK = 14  # older rows are past the 13-month retention: the default partition holds them
KEYS_KEPT_DAYS = 35


def _month(at):
    return datetime(at.year, at.month, 1, tzinfo=timezone.utc)


def _partition_sql(month):
    end = month + relativedelta(months=1)
    return (f"CREATE TABLE {TABLE}_{month:%Y_%m} PARTITION OF {TABLE}"
            f" FOR VALUES FROM ('{month.isoformat()}') TO ('{end.isoformat()}')")


def _table_parts(cursor, table):
    """(index definitions but the primary key's, foreign key definitions, primary key name)."""
    cursor.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema()"
        " AND i.tablename = %s AND i.indexname NOT IN (SELECT conname FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype IN ('p', 'u'))", [table, table])
    indexes = cursor.fetchall()
    cursor.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                   " WHERE conrelid = %s::regclass AND contype = 'f'", [table])
    foreign_keys = cursor.fetchall()
    cursor.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'", [table])
    return indexes, foreign_keys, cursor.fetchone()[0]


def _refuse_references(cursor):
    cursor.execute("SELECT conrelid::regclass::text, conname FROM pg_constraint"
                   " WHERE confrelid = %s::regclass AND contype = 'f'", [TABLE])
    references = cursor.fetchall()
    if references:
        raise RuntimeError(
            f"Foreign keys point at {TABLE} ({references}); a partitioned table can only be"
            " referenced on (id, received_at). Drop them or add received_at to them first.")


def _rebuild(cursor, *, partitioned, now):
    """Replace TABLE by a copy of itself, partitioned by month or not."""
    _refuse_references(cursor)
    cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
    indexes, foreign_keys, primary_key = _table_parts(cursor, TABLE)
    cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
    for name, _definition in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    cursor.execute(f'ALTER TABLE {OLD} DROP CONSTRAINT "{primary_key}"')
    cursor.execute(f"CREATE TABLE {TABLE} (LIKE {OLD} INCLUDING DEFAULTS INCLUDING IDENTITY"
                   " INCLUDING CONSTRAINTS)" + (" PARTITION BY RANGE (received_at)" if partitioned else ""))
    if partitioned:
        cursor.execute(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE} DEFAULT")
        cursor.execute(f"SELECT min(received_at) FROM {OLD}")
        oldest = cursor.fetchone()[0] or now
        month = max(_month(oldest), _month(now) - relativedelta(months=MONTHS_BACK))
        while month <= _month(now) + relativedelta(months=MONTHS_AHEAD):
            cursor.execute(_partition_sql(month))
            month += relativedelta(months=1)
    cursor.execute(f"SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute"
                   f" WHERE attrelid = '{OLD}'::regclass AND attnum > 0 AND NOT attisdropped")
    columns = cursor.fetchone()[0]
    cursor.execute(f"INSERT INTO {TABLE} ({columns}) SELECT {columns} FROM {OLD}")
    cursor.execute(f"SELECT setval(pg_get_serial_sequence('{TABLE}', 'id'),"
                   f" COALESCE((SELECT max(id) FROM {TABLE}), 0) + 1, false)")
    key = "id, received_at" if partitioned else "id"
    cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{primary_key}" PRIMARY KEY ({key})')
    for _name, definition in indexes:
        cursor.execute(definition)  # "CREATE INDEX name ON public.usage_usageevent ..."
    cursor.execute(f"DROP TABLE {OLD}")
    for name, definition in foreign_keys:
        cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" {definition}')


def _is_partitioned(cursor):
    cursor.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass", [TABLE])
    return cursor.fetchone()[0] == "p"


def events_partition(apps, schema_editor):
    connection = schema_editor.connection
    now = datetime.now(timezone.utc)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            if not _is_partitioned(cursor):
                _rebuild(cursor, partitioned=True, now=now)
    _keys_fill(apps, now=now)


def _keys_fill(apps, *, now):
    """A key for each event received in the last 35 days (from the start of that day)."""
    UsageEvent = apps.get_model("usage", "UsageEvent")
    UsageEventKey = apps.get_model("usage", "UsageEventKey")
    since = datetime.combine((now - timedelta(days=KEYS_KEPT_DAYS)).date(), time.min, tzinfo=timezone.utc)
    seen = set()
    batch = []
    for workspace_id, event_id, received_at in (
        UsageEvent.objects.filter(received_at__gte=since).order_by("received_at", "id")
        .values_list("workspace_id", "event_id", "received_at").iterator(chunk_size=10000)
    ):
        if (workspace_id, event_id) in seen:
            continue
        seen.add((workspace_id, event_id))
        batch.append(UsageEventKey(workspace_id=workspace_id, event_id=event_id, received_at=received_at))
        if len(batch) == 10000:
            UsageEventKey.objects.bulk_create(batch)
            batch = []
    UsageEventKey.objects.bulk_create(batch)


def events_unpartition(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            if _is_partitioned(cursor):
                _rebuild(cursor, partitioned=False, now=datetime.now(timezone.utc))


class Migration(migrations.Migration):

    dependencies = [
        ('teams', '0001_initial'),
        ('usage', '0006_event_activity_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='UsageEventKey',
            fields=[
                ('pk', models.CompositePrimaryKey('workspace_id', 'event_id', blank=True, editable=False, primary_key=True, serialize=False)),
                ('workspace', models.ForeignKey(db_constraint=False, db_index=False, on_delete=models.deletion.DO_NOTHING, related_name='+', to='teams.workspace')),
                ('event_id', models.CharField(max_length=200)),
                ('received_at', models.DateTimeField()),
            ],
            options={
                'indexes': [models.Index(fields=['received_at'], name='usage_event_key_received')],
            },
        ),
        migrations.RemoveConstraint(
            model_name='usageevent',
            name='one_usage_event_per_id',
        ),
        migrations.AddIndex(
            model_name='usageevent',
            index=models.Index(fields=['workspace', 'event_id'], name='usage_event_ws_event'),
        ),
        migrations.RunPython(events_partition, events_unpartition),
    ]
