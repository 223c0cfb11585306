"""PostgreSQL: any number of new usage events written, charged and answered by ONE statement.

Every write of usage events on PostgreSQL comes here: one event, a batch of up to 1000, or
the single events of concurrent requests gathered by usage.groupcommit. One statement is
atomic on its own, so in autocommit it needs no BEGIN/COMMIT round trips, and the cost of a
round trip, a commit and a WAL flush is shared by every event in it. A write of one event
uses a lighter statement of its own (_ONE_SQL, same rules, a third of the server's time);
everything else, _SQL.

What _SQL does, in order:
- `fresh`: the events not stored yet in the statement's snapshot;
- `priced`: each one's balance after its charge: the workspace's shards summed, minus the
  running total of the group's charges of that workspace (in the order the events came);
- `ev`: inserts them in (workspace, event id) order with ON CONFLICT DO NOTHING, the
  stored first response carrying that balance (formatted like billing.money.format_credits);
  an in-flight twin from another process makes our insert wait for its commit and then
  skip the row;
- only for the rows `ev` really inserted: one ledger row each (`usage:<ws>:<id>` is
  unique), one shard upsert per workspace (in workspace order) and one key-spend upsert per
  key and cycle (in key order), so two statements always take row locks in the same order.
The caller gets back which events were written and the balance each answer shows; an event
that was not written was recorded by someone else first, and its stored answer is read by
`stored_answers`.
"""

import functools
import json
import random
from typing import NamedTuple

from django.db import connection

from billing.ledger import SHARDS
from billing.models import EntryKind
from usage.models import UsageEvent

# Every parameter has an explicit type (_SQL's are arrays of these). Text, not varchar(n):
# an explicit cast to varchar(n) would truncate silently, an assignment to the column
# refuses what is too long.
_TYPES = {
    "CharField": "text", "JSONField": "jsonb", "DateTimeField": "timestamptz",
    "BooleanField": "boolean", "BigIntegerField": "bigint", "PositiveSmallIntegerField": "int",
    "ForeignKey": "bigint",
}
# Per-event values the statement needs besides the event's own columns.
_EXTRA = [
    ("ord", "int"), ("charge", "bigint"), ("reference", "text"), ("memo", "text"),
    ("shard", "int"), ("cycle", "timestamptz"), ("has_balance", "boolean"),
]

_SQL = """
WITH input AS (
  SELECT * FROM unnest({arrays}) AS i({names})
), fresh AS (
  SELECT i.* FROM input i
  WHERE NOT EXISTS (
    SELECT 1 FROM usage_usageevent e
    WHERE e.workspace_id = i.workspace_id AND e.event_id = i.event_id
  )
), bal AS (
  -- One index lookup per workspace of the statement (a join could scan every shard).
  SELECT w.workspace_id, (
    SELECT SUM(s.balance_micro) FROM billing_balanceshard s WHERE s.workspace_id = w.workspace_id
  ) AS micro
  FROM (SELECT DISTINCT workspace_id FROM fresh) w
), priced AS (
  SELECT f.*, COALESCE(b.micro, 0)
              - SUM(f.charge) OVER (PARTITION BY f.workspace_id ORDER BY f.ord) AS balance_after
  FROM fresh f LEFT JOIN bal b USING (workspace_id)
), ev AS (
  INSERT INTO usage_usageevent ({columns})
  SELECT {values} FROM priced
  ORDER BY workspace_id, event_id
  ON CONFLICT (workspace_id, event_id) DO NOTHING
  RETURNING workspace_id, event_id
), charged AS (
  SELECT p.* FROM priced p JOIN ev USING (workspace_id, event_id) WHERE p.charge > 0
), entry AS (
  INSERT INTO billing_ledgerentry
    (workspace_id, kind, amount_micro, reference, memo, created_by_id, created_at)
  SELECT workspace_id, '{usage}', -charge, reference, memo, NULL, received_at
  FROM charged ORDER BY reference
), shard AS (
  INSERT INTO billing_balanceshard (workspace_id, shard, balance_micro)
  SELECT workspace_id, MIN(shard), -SUM(charge) FROM charged
  GROUP BY workspace_id ORDER BY workspace_id
  ON CONFLICT (workspace_id, shard)
  DO UPDATE SET balance_micro = billing_balanceshard.balance_micro + EXCLUDED.balance_micro
), spend AS (
  INSERT INTO apikeys_keyspend (key_id, cycle_start, spent_micro)
  SELECT key_id, cycle, SUM(charge) FROM charged
  GROUP BY key_id, cycle ORDER BY key_id, cycle
  ON CONFLICT (key_id, cycle_start)
  DO UPDATE SET spent_micro = apikeys_keyspend.spent_micro + EXCLUDED.spent_micro
)
SELECT p.ord, p.balance_after FROM priced p JOIN ev USING (workspace_id, event_id)
"""


def _balance_set(response):
    """SQL: the answer `response` with its balance set to balance_after, formatted like
    billing.money.format_credits (six places)."""
    return (f"jsonb_set({response}, '{{balance}}', "
            "to_jsonb(round(balance_after::numeric / 1000000, 6)::text))")


# One event: the same rules with scalar parameters. Everything after the event INSERT reads
# FROM its RETURNING, so a replay or a concurrent twin writes nothing at all.
_ONE_SQL = """
WITH bal AS (
  SELECT COALESCE(SUM(balance_micro), 0) - %(charge)s::bigint AS balance_after
  FROM billing_balanceshard WHERE workspace_id = %(f_workspace_id)s::bigint
), ev AS (
  INSERT INTO usage_usageevent ({columns})
  SELECT {values} FROM bal
  ON CONFLICT (workspace_id, event_id) DO NOTHING
  RETURNING id
), entry AS (
  INSERT INTO billing_ledgerentry
    (workspace_id, kind, amount_micro, reference, memo, created_by_id, created_at)
  SELECT %(f_workspace_id)s::bigint, '{usage}', -%(charge)s::bigint, %(reference)s::text,
         %(memo)s::text, NULL, %(f_received_at)s::timestamptz
  FROM ev WHERE %(charge)s::bigint > 0
  RETURNING id
), shard AS (
  INSERT INTO billing_balanceshard (workspace_id, shard, balance_micro)
  SELECT %(f_workspace_id)s::bigint, %(shard)s::int, -%(charge)s::bigint FROM entry
  ON CONFLICT (workspace_id, shard)
  DO UPDATE SET balance_micro = billing_balanceshard.balance_micro + EXCLUDED.balance_micro
  RETURNING 1
), spend AS (
  INSERT INTO apikeys_keyspend (key_id, cycle_start, spent_micro)
  SELECT %(f_key_id)s::bigint, %(cycle)s::timestamptz, %(charge)s::bigint FROM entry
  ON CONFLICT (key_id, cycle_start)
  DO UPDATE SET spent_micro = apikeys_keyspend.spent_micro + EXCLUDED.spent_micro
  RETURNING 1
)
SELECT 0, (SELECT balance_after FROM bal) FROM ev
"""

class EventWrite(NamedTuple):
    """One event to write: its column values by attname (`row`; its `response` is the first
    answer without its balance, which the statement fills in), what to charge, the ledger
    reference and memo, and the start of the key's spend cycle (None when nothing is charged)."""

    row: object
    charge: int
    reference: str
    memo: str
    cycle: object


@functools.cache
def _fields():
    """The event columns this module writes (all but the id), in model order."""
    return tuple(f for f in UsageEvent._meta.concrete_fields if not f.primary_key)


@functools.cache
def _one_params():
    """(parameter name, attname, is JSON) of each column, for _one_write."""
    return tuple((f"f_{f.attname}", f.attname, _is_json(f)) for f in _fields())


@functools.cache
def _sql():
    """_SQL for this model's columns (made once)."""
    fields = _fields()
    # JSON travels as text (see _json_texts) and becomes jsonb in the INSERT.
    types = [t for _n, t in _EXTRA]
    types += ["text" if _is_json(f) else _TYPES[f.get_internal_type()] for f in fields]
    names = [n for n, _t in _EXTRA] + [f.column for f in fields]
    values = [f"{f.column}::jsonb" if _is_json(f) else f.column for f in fields]
    values[_response_index()] = (
        f"CASE WHEN has_balance THEN {_balance_set('response::jsonb')} ELSE response::jsonb END"
    )
    return _SQL.format(
        arrays=", ".join(f"%b::{t}[]" for t in types),
        names=", ".join(names),
        columns=", ".join(f.column for f in fields),
        values=", ".join(values),
        usage=EntryKind.USAGE.value,
    )


@functools.cache
def _one_sql(has_balance):
    """_ONE_SQL for this model's columns, with or without a balance in the answer."""
    fields = _fields()
    values = [f"%(f_{f.attname})s::{_TYPES[f.get_internal_type()]}" for f in fields]
    if has_balance:
        values[_response_index()] = _balance_set(values[_response_index()])
    return _ONE_SQL.format(
        columns=", ".join(f.column for f in fields),
        values=", ".join(values),
        usage=EntryKind.USAGE.value,
    )


def _response_index():
    return [f.column for f in _fields()].index("response")


def events_write(items):
    """Write EventWrites; returns {index: balance_micro} for those this statement wrote
    (the others were already recorded)."""
    import psycopg

    if len(items) == 1:
        return _one_write(items[0])
    shards = {}  # one random shard per workspace and statement
    for item in items:
        if item.row.workspace_id not in shards:
            shards[item.row.workspace_id] = random.randrange(SHARDS)
    rows = [item.row for item in items]
    columns = [
        list(range(len(items))),
        [item.charge for item in items],
        [item.reference for item in items],
        [item.memo for item in items],
        [shards[row.workspace_id] for row in rows],
        [item.cycle for item in items],
        ["balance" in row.response for row in rows],
    ]
    # Column by column: a list comprehension per column is much cheaper than a loop per row.
    for f in _fields():
        values = [getattr(row, f.attname) for row in rows]
        columns.append(_json_texts(values) if _is_json(f) else values)
    connection.ensure_connection()
    # psycopg's own cursor: binary array parameters (Django's client-side cursor would
    # escape every element with regular expressions, the slowest part of a batch).
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        # Prepared once per connection (psycopg then skips parsing it again).
        cursor.execute(_sql(), columns, binary=True, prepare=True)
        return dict(cursor.fetchall())


def _one_write(item):
    import psycopg
    from psycopg.types.json import Jsonb

    row = item.row
    params = {
        "charge": item.charge, "reference": item.reference, "memo": item.memo,
        "shard": random.randrange(SHARDS), "cycle": item.cycle,
    }
    for name, attname, is_json in _one_params():
        value = getattr(row, attname)
        params[name] = Jsonb(value) if is_json and value is not None else value
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        # Server-side binding, prepared once per connection: every parameter has an explicit
        # type, so none is ever narrowed to what the first value looked like.
        cursor.execute(_one_sql("balance" in row.response), params, prepare=True)
        return dict(cursor.fetchall())


def _is_json(field):
    return field.get_internal_type() == "JSONField"


def _json_texts(values):
    """JSON texts of `values`, each object serialized once: the events of a batch share
    their quote's breakdown and price versions (pricing.quote memoizes quotes)."""
    texts, seen = [], {}
    for value in values:
        if value is None:
            texts.append(None)
            continue
        text = seen.get(id(value))
        if text is None:
            text = seen[id(value)] = json.dumps(value)
        texts.append(text)
    return texts


def stored_answers(pairs):
    """{(workspace_id, event_id): {body_hash, response_status, response}} of stored events."""
    if not pairs:
        return {}
    import psycopg

    pairs = sorted(pairs)
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            "SELECT e.workspace_id, e.event_id, e.body_hash, e.response_status, e.response"
            " FROM usage_usageevent e"
            " JOIN unnest(%b::bigint[], %b::text[]) AS p(ws, id)"
            " ON e.workspace_id = p.ws AND e.event_id = p.id",
            [[ws for ws, _id in pairs], [event_id for _ws, event_id in pairs]],
            binary=True,
        )
        return {
            (ws, event_id): {"body_hash": h, "response_status": status, "response": response}
            for ws, event_id, h, status, response in cursor.fetchall()
        }
