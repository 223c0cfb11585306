"""Loading usage history into PostgreSQL by the million, for benchmarks (COPY).

    from bench.loading import event_shapes, usage_history_copy, Stream

The events are what the usage call would have stored and charged, written the fastest
honest way: a few hundred event bodies go through the real parse and pricing
(`usage.preparing.event_prepare`: `event_shapes`), and every loaded event is one of those
shapes with its own id, key, time and answer. `usage_history_copy` streams the event rows
and their ledger charges with COPY over two connections at once (one per table, so
PostgreSQL parses both while Python makes the rows), then adds, in one transaction, what
the write path adds with each charge: each workspace's balance (one shard), its usage per
UTC day (billing.models.UsageDayTotal) and each key's spend of the charge's cycle, all
from the totals of what was loaded, so `manage.py check_ledger` holds afterwards.

The columns come from the models (as usage.pgwrite builds its statement), so a table that
gains a column, or is partitioned (a COPY into the parent routes rows to partitions; each
month's partition is made first), loads the same way. No idempotency keys
(usage.models.UsageEventKey) are written: replaying a loaded id is not what this measures.
"""

import json
import random
import threading
import queue
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone as dt_timezone

TEMPLATE_ID = "\u0000id\u0000"


@dataclass(frozen=True)
class Shape:
    """One priced event body, ready to be stamped with an id, key and time."""

    values: dict  # column values by attname, as usage.preparing.event_row made them
    charged_micro: int
    product: str
    response_head: str  # the stored answer's JSON around its id
    response_tail: str


@dataclass(frozen=True)
class Stream:
    """`count` events of one workspace, spread evenly over [start, end), keys in turn."""

    workspace_id: int
    key_ids: Sequence[int]
    count: int
    start: datetime
    end: datetime
    prefix: str  # event ids are prefix + a number, unique per workspace


@dataclass
class LoadTotals:
    events: int = 0
    charges: int = 0
    charged_micro: dict = field(default_factory=dict)  # workspace id -> micro
    days: dict = field(default_factory=dict)  # (workspace id, day) -> micro
    day_charges: dict = field(default_factory=dict)  # (workspace id, day) -> ledger rows
    key_days: dict = field(default_factory=dict)  # (key id, workspace id, day) -> micro


def event_shapes(key, bodies: Sequence[dict], *, now: datetime) -> list[Shape]:
    """Each body (a gateway event without id and key_id) parsed and priced for `key`."""
    from usage.preparing import event_prepare, event_response, event_row

    shapes = []
    for n, body in enumerate(bodies):
        raw = dict(body, id=f"shape_{n}", key_id=key.public_id)
        prepared = event_prepare(index=0, raw=raw, now=now)
        result = event_response(prepared, balance_micro=0)
        values = vars(event_row(prepared, result, retention_days=0)).copy()
        response = dict(result.body, id=TEMPLATE_ID)
        head, tail = json.dumps(response).split(json.dumps(TEMPLATE_ID))
        shapes.append(Shape(values, prepared.charged_micro if prepared.billed else 0,
                            prepared.event.product, head, tail))
    return shapes


def _event_columns():
    from usage.models import UsageEvent

    return [f for f in UsageEvent._meta.concrete_fields if not f.primary_key]


def _text(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


def _merged(streams: Sequence[Stream]) -> Iterator[tuple[datetime, Stream, int]]:
    """Every stream's events in time order, as a gateway would send them."""
    import heapq

    def one(stream):
        step = (stream.end - stream.start) / max(stream.count, 1)
        for n in range(stream.count):
            yield stream.start + step * n, id(stream), n, stream

    for at, _sid, n, stream in heapq.merge(*(one(s) for s in streams)):
        yield at, stream, n


def usage_history_copy(
    database_url: str, streams: Sequence[Stream], shapes: Sequence[Shape], *,
    seed: int = 1, touched_at: datetime | None = None, progress_every: int = 1_000_000,
    bulk: bool = False,
) -> LoadTotals:
    """COPY the streams' events and charges into `database_url`; returns what was loaded.

    Each event takes shapes in a seeded random order; `touched_at` (default: the event's
    own time, as if it had arrived then) is what the roll-up's watermark compares. Then the
    balances, usage day totals and key spends (see the module's docstring) in one
    transaction. `bulk=True` (a first load into near-empty tables) sets the two tables'
    secondary indexes and constraints aside during the COPY and builds them afterwards.
    """
    import psycopg

    from billing.models import EntryKind

    columns = _event_columns()
    names = [f.column for f in columns]
    rng = random.Random(seed)
    totals = LoadTotals()
    events_sql = f"COPY usage_usageevent ({', '.join(names)}) FROM STDIN"
    ledger_sql = ("COPY billing_ledgerentry (workspace_id, kind, amount_micro, reference, memo,"
                  " created_by_id, created_at) FROM STDIN")
    usage_kind = EntryKind.USAGE.value
    _partitions_make(streams)
    set_aside = _indexes_set_aside(database_url, TABLES) if bulk else []
    with psycopg.connect(database_url) as events_conn, psycopg.connect(database_url) as ledger_conn:
        with events_conn.cursor().copy(events_sql) as events_copy, \
                ledger_conn.cursor().copy(ledger_sql) as ledger_copy:
            rows = _Writer(events_copy)
            charges = _Writer(ledger_copy)
            templates = [[_text(shape.values[f.attname]) for f in columns] for shape in shapes]
            hashes = [shape.values["body_hash"][:48] for shape in shapes]
            index = {f.attname: n for n, f in enumerate(columns)}
            slots = [index[name] for name in (
                "workspace_id", "key_id", "event_id", "occurred_at", "received_at", "charged_at",
                "touched_at", "body_hash", "response")]
            for at, stream, n in _merged(streams):
                shape_no = rng.randrange(len(shapes))
                shape = shapes[shape_no]
                row = list(templates[shape_no])
                event_id = f"{stream.prefix}{n}"
                key_id = stream.key_ids[n % len(stream.key_ids)]
                (ws, key, eid, occurred, received, charged, touched, digest, response) = slots
                row[ws], row[key], row[eid] = stream.workspace_id, key_id, event_id
                row[occurred] = row[received] = at
                row[charged] = at if shape.charged_micro else None
                row[touched] = touched_at or at
                # Stands in for the SHA-256 of the body (replays compare it; no page reads it).
                row[digest] = f"{hashes[shape_no]}{n:016x}"
                row[response] = shape.response_head + json.dumps(event_id) + shape.response_tail
                rows.put(row)
                totals.events += 1
                if shape.charged_micro:
                    charges.put((stream.workspace_id, usage_kind, -shape.charged_micro,
                                 f"usage:{stream.workspace_id}:{event_id}",
                                 f"{shape.product} ({event_id})"[:200], None, at))
                    totals.charges += 1
                    day = at.astimezone(dt_timezone.utc).date()
                    _add(totals.charged_micro, stream.workspace_id, shape.charged_micro)
                    _add(totals.days, (stream.workspace_id, day), shape.charged_micro)
                    _add(totals.day_charges, (stream.workspace_id, day), 1)
                    _add(totals.key_days, (key_id, stream.workspace_id, day), shape.charged_micro)
                if progress_every and totals.events % progress_every == 0:
                    print(f"    {totals.events:,} events streamed", flush=True)
            rows.close()
            charges.close()
        events_conn.commit()
        ledger_conn.commit()
    if set_aside:
        _indexes_restore(database_url, set_aside)
    _aggregates_add(database_url, totals)
    return totals


TABLES = ("usage_usageevent", "billing_ledgerentry")


def _partitions_make(streams):
    """On a table partitioned by month (usage.partitions), each month of the load gets its
    partition first, so no row lands in the default partition."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    from usage.partitions import partition_create, partitions

    if not partitions():
        return
    month = min(s.start for s in streams).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last = max(s.end for s in streams)
    while month <= last:
        partition_create(month)
        month = (month + timedelta(days=32)).replace(day=1)


def _indexes_set_aside(database_url, tables):
    """Drop the tables' secondary indexes, unique and foreign-key constraints (not the
    primary keys) and return the statements that make them again: building an index once
    over loaded rows is faster than keeping it up to date row by row (PostgreSQL's advice
    for a bulk load). Read from the catalog, so a new or partitioned index comes along."""
    import psycopg

    restore = []
    with psycopg.connect(database_url) as conn, conn.cursor() as cursor:
        for table in tables:
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = %s::regclass AND contype IN ('u', 'f')", [table])
            constraints = cursor.fetchall()
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = %s"
                " AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
                [table, table])
            indexes = cursor.fetchall()
            for name, _definition in constraints:
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            for name, _definition in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
            # A partitioned table's index reads "ON ONLY" in the catalog: made again on the
            # whole table, so each partition gets its own.
            restore += [definition.replace(" ON ONLY ", " ON ") for _name, definition in indexes]
            # Unique constraints first: foreign keys of other tables may need them.
            ordered = sorted(constraints, key=lambda c: not c[1].startswith("UNIQUE"))
            restore += [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for name, definition in ordered]
    return restore


def _indexes_restore(database_url, statements):
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        for statement in statements:
            conn.execute(statement)


class _Writer:
    """Rows handed to a COPY in a thread of its own: psycopg sends while we make rows."""

    def __init__(self, copy, batch=2000):
        self.copy, self.batch, self.pending = copy, batch, []
        self.queue = queue.Queue(maxsize=64)
        self.failure = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while (rows := self.queue.get()) is not None:
                for row in rows:
                    self.copy.write_row(row)
        except BaseException as error:  # noqa: BLE001 - handed to the caller in close()
            self.failure = error
            while self.queue.get() is not None:
                pass

    def put(self, row):
        self.pending.append(row)
        if len(self.pending) >= self.batch:
            self.queue.put(self.pending)
            self.pending = []

    def close(self):
        if self.pending:
            self.queue.put(self.pending)
        self.queue.put(None)
        self.thread.join()
        if self.failure is not None:
            raise self.failure


def _add(totals, key, amount):
    totals[key] = totals.get(key, 0) + amount


def _aggregates_add(database_url, totals: LoadTotals) -> None:
    """What each charge adds besides its ledger row, from the totals of the load."""
    import psycopg

    starts = _cycle_start_of({(ws, day) for _key, ws, day in totals.key_days})
    spends = {}
    for (key_id, workspace_id, day), micro in totals.key_days.items():
        _add(spends, (key_id, starts[(workspace_id, day)]), micro)
    with psycopg.connect(database_url) as conn, conn.cursor() as cursor:
        for workspace_id, micro in sorted(totals.charged_micro.items()):
            cursor.execute(
                "INSERT INTO billing_balanceshard (workspace_id, shard, balance_micro) VALUES (%s, 0, %s)"
                " ON CONFLICT (workspace_id, shard)"
                " DO UPDATE SET balance_micro = billing_balanceshard.balance_micro + EXCLUDED.balance_micro",
                [workspace_id, -micro])
        cursor.executemany(
            "INSERT INTO billing_usagedaytotal (workspace_id, day, shard, charged_micro, charges)"
            " VALUES (%s, %s, 0, %s, %s) ON CONFLICT (workspace_id, day, shard)"
            " DO UPDATE SET charged_micro = billing_usagedaytotal.charged_micro + EXCLUDED.charged_micro,"
            " charges = billing_usagedaytotal.charges + EXCLUDED.charges",
            [(ws, day, micro, totals.day_charges[(ws, day)]) for (ws, day), micro in sorted(totals.days.items())])
        cursor.executemany(
            "INSERT INTO apikeys_keyspend (key_id, cycle_start, spent_micro) VALUES (%s, %s, %s)"
            " ON CONFLICT (key_id, cycle_start)"
            " DO UPDATE SET spent_micro = apikeys_keyspend.spent_micro + EXCLUDED.spent_micro",
            [(key, start, micro) for (key, start), micro in sorted(spends.items())])


def _cycle_start_of(pairs):
    """{(workspace id, day): start of the cycle that day's charges belong to}, as
    billing.cycles.cycle_start answers (an open cycle row, else the anchor's bounds), read
    with two queries instead of two per pair."""
    from billing.cycles import cycle_bounds
    from billing.models import BillingAccount, BillingCycle

    workspace_ids = {ws for ws, _day in pairs}
    anchors = dict(BillingAccount.objects.filter(workspace_id__in=workspace_ids)
                   .values_list("workspace_id", "cycle_anchor_day"))
    cycles = {}
    for ws, start, end in BillingCycle.objects.filter(workspace_id__in=workspace_ids).values_list(
            "workspace_id", "start", "end"):
        cycles.setdefault(ws, []).append((start, end))
    found = {}
    for ws, day in pairs:
        moment = day_start(day)
        rows = [start for start, end in cycles.get(ws, ()) if start <= moment < end]
        found[(ws, day)] = max(rows) if rows else cycle_bounds(anchors[ws], moment)[0]
    return found


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=dt_timezone.utc)


def days_ago(days: int, *, now: datetime) -> datetime:
    return day_start(now.date()) - timedelta(days=days)
