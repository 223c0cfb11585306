"""PostgreSQL: the usage events table's monthly partitions, made ahead and dropped whole.

usage_usageevent is partitioned by range of `received_at` (migration 0007): a partition
per UTC month, `usage_usageevent_YYYY_MM`, and a default partition for rows of a month
without one (far back-dated events). Nothing here runs on SQLite, which keeps one table.

- `partitions_ensure(now=)` (Celery beat, daily; the migration made the first ones) makes
  this month's partition and the next MONTHS_AHEAD, so a write never waits for one. A
  month whose rows the default partition already holds gets them moved into its new
  partition in the same transaction.
- `partitions_drop_expired(cutoff=)` (usage.rollup.usage_purge) drops a month's partition
  only once its end is at or before the 13-month cutoff: every row in it is past retention.
  A month still straddling the cutoff keeps all its rows until it is entirely past (so a
  row is kept 13 to 14 months): no row-by-row DELETE on the hot table.
"""

import re
from datetime import datetime, timezone as dt_timezone
from typing import NamedTuple

from dateutil.relativedelta import relativedelta
from django.db import connection, transaction

TABLE = "usage_usageevent"
DEFAULT_PARTITION = f"{TABLE}_default"
MONTHS_AHEAD = 3
_NAME = re.compile(rf"^{TABLE}_(\d{{4}})_(\d{{2}})$")
# pg_advisory_xact_lock key: one maker of partitions at a time (beat, a migration, a test).
_LOCK = 0x75736167  # "usag"
# Checks the deferred foreign keys of rows written earlier in the same transaction now:
# PostgreSQL refuses to drop or alter a table with such checks pending (a task has none;
# a caller's transaction, a test's, may).
_PENDING_CHECKS_NOW = "SET CONSTRAINTS ALL IMMEDIATE"
_CHECKS_DEFERRED_AGAIN = "SET CONSTRAINTS ALL DEFERRED"  # Django's foreign keys are INITIALLY DEFERRED


class Partition(NamedTuple):
    name: str
    start: datetime
    end: datetime


def month_start(at: datetime) -> datetime:
    at = at.astimezone(dt_timezone.utc)
    return datetime(at.year, at.month, 1, tzinfo=dt_timezone.utc)


def partition_name(month: datetime) -> str:
    return f"{TABLE}_{month:%Y_%m}"


def events_partitioned() -> bool:
    """True when the events table is partitioned (PostgreSQL after migration 0007)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
        row = cursor.fetchone()
    return bool(row) and row[0] == "p"


def partitions() -> list[Partition]:
    """The monthly partitions, oldest first (the default partition is not among them)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = to_regclass(%s)", [TABLE])
        names = [name for (name,) in cursor.fetchall()]
    found = []
    for name in names:
        match = _NAME.match(name)
        if match:
            start = datetime(int(match[1]), int(match[2]), 1, tzinfo=dt_timezone.utc)
            found.append(Partition(name, start, start + relativedelta(months=1)))
    return sorted(found, key=lambda p: p.start)


def partitions_ensure(*, now: datetime, months_ahead: int = MONTHS_AHEAD) -> list[str]:
    """Make the partitions of now's month and the `months_ahead` after it; returns the names
    made (none when they all exist). Safe to run any number of times, also at once."""
    if not events_partitioned():
        return []
    made = []
    month = month_start(now)
    for _ in range(months_ahead + 1):
        if partition_create(month):
            made.append(partition_name(month))
        month += relativedelta(months=1)
    return made


def partition_create(month: datetime) -> bool:
    """Make `month`'s partition unless it exists, moving in the rows of that month the
    default partition holds (attaching a range the default still holds would fail)."""
    month = month_start(month)
    name, end = partition_name(month), month + relativedelta(months=1)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK])
        cursor.execute(_PENDING_CHECKS_NOW)
        if name in {p.name for p in partitions()}:
            return False
        bounds = [month, end]
        cursor.execute(f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        # The range as a check first, so attaching it need not scan the new table again.
        cursor.execute(f"ALTER TABLE {name} ADD CONSTRAINT {name}_range"
                       " CHECK (received_at >= %s AND received_at < %s)", bounds)
        columns = _columns(cursor)
        cursor.execute(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE received_at >= %s AND received_at < %s"
            f" RETURNING {columns}) INSERT INTO {name} ({columns}) SELECT {columns} FROM moved", bounds)
        cursor.execute(f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)", bounds)
        cursor.execute(f"ALTER TABLE {name} DROP CONSTRAINT {name}_range")
        cursor.execute(_CHECKS_DEFERRED_AGAIN)
    return True


def _columns(cursor) -> str:
    cursor.execute("SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute"
                   " WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped", [TABLE])
    return cursor.fetchone()[0]


def partitions_drop_expired(*, cutoff: datetime) -> int:
    """Drop every monthly partition whose rows are all older than `cutoff` (its end is at or
    before it); returns how many events went with them."""
    dropped = 0
    for partition in partitions():
        if partition.end > cutoff:
            break
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK])
            cursor.execute(_PENDING_CHECKS_NOW)
            cursor.execute(f"SELECT count(*) FROM {partition.name}")
            dropped += cursor.fetchone()[0]
            cursor.execute(f"DROP TABLE {partition.name}")
            cursor.execute(_CHECKS_DEFERRED_AGAIN)
    return dropped


def default_partition_purge(*, cutoff: datetime) -> int:
    """Delete the default partition's rows received before `cutoff`; returns how many."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {DEFAULT_PARTITION} WHERE received_at < %s", [cutoff])
        return cursor.rowcount
