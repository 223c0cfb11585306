"""PostgreSQL: any number of new usage events written, charged and answered by ONE statement.

Every write of usage events on PostgreSQL comes here: one event or a batch of up to 1000.
One statement is atomic on its own, so in autocommit it needs no BEGIN/COMMIT round trips,
and the cost of a round trip, a commit and a WAL flush is shared by every event in it. A
write of one event uses a lighter statement of its own (_ONE_SQL, same rules); everything
else, _SQL.

What _SQL does, in order:
- `fresh`: the events whose key (usage_usageeventkey: workspace, event id) is not stored
  yet in the statement's snapshot;
- `priced`: each one's balance after its charge: the workspace's balance
  (billing.ledger.credits_balance_sql) minus the running total of the group's charges of
  that workspace (in the order the events came);
- `ids`: inserts their keys in (workspace, event id) order with ON CONFLICT DO NOTHING: an
  in-flight twin from another process makes our insert wait for its commit and then skip
  the key. The events table (partitioned by month, usage.partitions) has no unique index
  on the id: the keys' table is what makes an id count once;
- `ev`: inserts the events whose key `ids` inserted, the stored first response carrying
  that balance (formatted like billing.money.format_credits) and the metadata only when
  the plan keeps it, read in this very statement (billing.selectors.metadata_retention_sql):
  a move to zero retention applies at once;
- only for the keys `ids` inserted: the charges, with billing's SQL
  (billing.ledger.credits_charge_sql: a ledger row each, one shard per workspace), and the
  key spends, with apikeys' SQL (apikeys.services.key_spends_sql), each in a fixed order so
  two statements always take row locks in the same order.
The caller gets back which events were written and the balance each answer shows; an event
that was not written was recorded by someone else first, and its stored answer is read by
`stored_answers`. Keys are kept 35 days (usage.rollup.usage_purge): a charged event sent
again later fails the statement on the ledger's unique reference, and usage.storage answers
it from the stored event.
"""

import functools
import json
from collections.abc import Sequence
from typing import NamedTuple

from django.db import connection, transaction

from apikeys.services import key_spends_sql
from billing.credits import credits_changed_on_commit
from billing.cycles import cycle_start_cached
from billing.ledger import credits_balance_sql, credits_charge_sql
from billing.money import format_credits
from billing.selectors import metadata_retention_sql
from usage.models import UsageEvent
from usage.preparing import PreparedEvent, event_replayed, event_response, event_row
from usage.retries import with_retries

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
    ("cycle", "timestamptz"), ("has_balance", "boolean"),
]

_SQL = """
WITH input AS (
  SELECT * FROM unnest({arrays}) AS i({names})
), fresh AS (
  SELECT i.* FROM input i
  WHERE NOT EXISTS (
    SELECT 1 FROM usage_usageeventkey k
    WHERE k.workspace_id = i.workspace_id AND k.event_id = i.event_id
  )
), bal AS (
  -- One index lookup per workspace of the statement (a join could scan every shard).
  SELECT w.workspace_id, {balance} AS micro
  FROM (SELECT DISTINCT workspace_id FROM fresh) w
), kept AS (
  SELECT w.workspace_id, {retention} AS days
  FROM (SELECT DISTINCT workspace_id FROM fresh WHERE metadata IS NOT NULL) w
), priced AS (
  SELECT f.*, b.micro - SUM(f.charge) OVER (PARTITION BY f.workspace_id ORDER BY f.ord)
              AS balance_after, COALESCE(k.days, 0) AS days
  FROM fresh f JOIN bal b USING (workspace_id) LEFT JOIN kept k USING (workspace_id)
), ids AS (
  INSERT INTO usage_usageeventkey (workspace_id, event_id, received_at)
  SELECT workspace_id, event_id, received_at FROM priced
  ORDER BY workspace_id, event_id
  ON CONFLICT (workspace_id, event_id) DO NOTHING
  RETURNING workspace_id, event_id
), ev AS (
  INSERT INTO usage_usageevent ({columns})
  SELECT {values} FROM priced JOIN ids USING (workspace_id, event_id)
), charged AS (
  SELECT p.workspace_id, p.charge, p.reference, p.memo, p.received_at AS created_at,
         p.key_id, p.cycle
  FROM priced p JOIN ids USING (workspace_id, event_id) WHERE p.charge > 0
), {charge}, {spend}
SELECT p.ord, p.balance_after FROM priced p JOIN ids USING (workspace_id, event_id)
"""


def _balance_set(response):
    """SQL: the answer `response` with its balance set to balance_after, formatted like
    billing.money.format_credits (six places)."""
    return (f"jsonb_set({response}, '{{balance}}', "
            "to_jsonb(round(balance_after::numeric / 1000000, 6)::text))")


def _kept(metadata, days):
    """SQL: (metadata, metadata_expires_at) as stored under a retention of `days`."""
    return (f"CASE WHEN {days} > 0 THEN {metadata} END",
            f"CASE WHEN {metadata} IS NOT NULL AND {days} > 0"
            f" THEN received_at + make_interval(days => {days}) END")


# One event: the same rules with scalar parameters. Everything after the key INSERT reads
# FROM its RETURNING, so a replay or a concurrent twin writes nothing at all.
_ONE_SQL = """
WITH bal AS (
  SELECT {balance} - %(charge)s::bigint AS balance_after, {retention} AS days,
         %(f_received_at)s::timestamptz AS received_at
), ids AS (
  INSERT INTO usage_usageeventkey (workspace_id, event_id, received_at)
  VALUES (%(f_workspace_id)s::bigint, %(f_event_id)s::text, %(f_received_at)s::timestamptz)
  ON CONFLICT (workspace_id, event_id) DO NOTHING
  RETURNING 1
), ev AS (
  INSERT INTO usage_usageevent ({columns})
  SELECT {values} FROM bal, ids
), charged AS (
  SELECT %(f_workspace_id)s::bigint AS workspace_id, %(charge)s::bigint AS charge,
         %(reference)s::text AS reference, %(memo)s::text AS memo,
         %(f_received_at)s::timestamptz AS created_at, %(f_key_id)s::bigint AS key_id,
         %(cycle)s::timestamptz AS cycle
  FROM ids WHERE %(charge)s::bigint > 0
), {charge}, {spend}
SELECT 0, (SELECT balance_after FROM bal) FROM ids
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


def _owned_sql():
    """The parts of both statements that other apps own: reading the balance and the
    retention, charging, adding key spends."""
    return dict(
        # Every charged row is an event this statement's own insert stored, so its reference
        # is new and billing posts all of them: spends add up `charged` directly. (Joining
        # `entry` back on reference was planned as a nested loop over 1000 x 1000 rows.)
        charge=credits_charge_sql(source="charged", references_new=True),
        spend=key_spends_sql(source="charged"),
    )


@functools.cache
def _sql():
    """_SQL for this model's columns (made once)."""
    fields = _fields()
    # JSON travels as text (see _json_texts) and becomes jsonb in the INSERT.
    types = [t for _n, t in _EXTRA]
    types += ["text" if _is_json(f) else _TYPES[f.get_internal_type()] for f in fields]
    names = [n for n, _t in _EXTRA] + [f.column for f in fields]
    values = [f"{f.column}::jsonb" if _is_json(f) else f.column for f in fields]
    values[_index("response")] = (
        f"CASE WHEN has_balance THEN {_balance_set('response::jsonb')} ELSE response::jsonb END"
    )
    values[_index("metadata")], values[_index("metadata_expires_at")] = _kept("metadata::jsonb", "days")
    return _SQL.format(
        arrays=", ".join(f"%b::{t}[]" for t in types),
        names=", ".join(names),
        columns=", ".join(f.column for f in fields),
        values=", ".join(values),
        balance=credits_balance_sql(workspace_id="w.workspace_id"),
        retention=metadata_retention_sql(workspace_id="w.workspace_id"),
        **_owned_sql(),
    )


@functools.cache
def _one_sql(has_balance, has_metadata):
    """_ONE_SQL for this model's columns, with or without a balance in the answer and
    metadata to keep."""
    fields = _fields()
    values = [f"%(f_{f.attname})s::{_TYPES[f.get_internal_type()]}" for f in fields]
    if has_balance:
        values[_index("response")] = _balance_set(values[_index("response")])
    values[_index("metadata")], values[_index("metadata_expires_at")] = _kept(
        values[_index("metadata")], "days")
    workspace = "%(f_workspace_id)s::bigint"
    return _ONE_SQL.format(
        columns=", ".join(f.column for f in fields),
        values=", ".join(values),
        balance=credits_balance_sql(workspace_id=workspace),
        retention=metadata_retention_sql(workspace_id=workspace) if has_metadata else "0",
        **_owned_sql(),
    )


def _index(column):
    return [f.column for f in _fields()].index(column)


def events_record_pg(prepared: Sequence[PreparedEvent]) -> None:
    """Write events of distinct (workspace, id) in one statement; fills each one's `result`,
    the stored first answer for those recorded before. Listeners of billing.credits hear of
    the charges once they commit (at once in autocommit, before anyone is answered)."""
    items = []
    for p in prepared:
        p.result = event_response(p, balance_micro=0)  # the statement fills the balance in
        items.append(EventWrite(
            row=event_row(p, p.result, retention_days=None),
            charge=p.charged_micro,
            reference=p.reference,
            memo=p.memo,
            cycle=cycle_start_cached(p.workspace_id, at=p.now) if p.charged_micro > 0 else None,
        ))
    in_transaction = connection.in_atomic_block

    def work():
        # Inside a caller's transaction a savepoint, so a deadlock can be retried.
        if in_transaction:
            with transaction.atomic():
                return events_write(items)
        return events_write(items)

    written = with_retries(work)
    # The balance after each workspace's last charge (events are priced in order).
    credits_changed_on_commit(balances={
        prepared[index].workspace_id: balance
        for index, balance in sorted(written.items()) if prepared[index].charged_micro > 0
    })
    missing = []
    for index, p in enumerate(prepared):
        if index not in written:
            missing.append(p)
        elif "balance" in p.result.body:
            p.result.body["balance"] = format_credits(written[index])
    stored = stored_answers({(p.workspace_id, p.event_id) for p in missing})
    for p in missing:
        p.result = event_replayed(p, stored.get((p.workspace_id, p.event_id)))


def events_write(items):
    """Write EventWrites; returns {index: balance_micro} for those this statement wrote
    (the others were already recorded)."""
    import psycopg

    if len(items) == 1:
        return _one_write(items[0])
    rows = [item.row for item in items]
    columns = [
        list(range(len(items))),
        [item.charge for item in items],
        [item.reference for item in items],
        [item.memo for item in items],
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
    params = {"charge": item.charge, "reference": item.reference, "memo": item.memo, "cycle": item.cycle}
    for name, attname, is_json in _one_params():
        value = getattr(row, attname)
        params[name] = Jsonb(value) if is_json and value is not None else value
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        # Server-side binding, prepared once per connection: every parameter has an explicit
        # type, so none is ever narrowed to what the first value looked like.
        sql = _one_sql("balance" in row.response, row.metadata is not None)
        cursor.execute(sql, params, prepare=True)
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
    """{(workspace_id, event_id): {body_hash, response_status, response}} of stored events.

    Through their keys: a key holds its event's received_at, so each event is read from
    its own month's partition (runtime pruning; OFFSET 0 keeps the subquery per key). The
    10-million-event bench read 1,000 replayed ids in 129 ms across every partition, 11 ms
    on one table. An id whose key is gone (past 35 days) is looked for in every partition,
    where it may be stored twice: the latest then answers."""
    if not pairs:
        return {}
    answers = _stored_answers_query(_THROUGH_KEYS, sorted(pairs))
    left = sorted(set(pairs) - set(answers))
    if left:
        answers.update(_stored_answers_query(_EVERY_PARTITION, left))
    return answers


_THROUGH_KEYS = """
SELECT e.workspace_id, e.event_id, e.body_hash, e.response_status, e.response
FROM unnest(%b::bigint[], %b::text[]) AS p(ws, id)
JOIN usage_usageeventkey k ON k.workspace_id = p.ws AND k.event_id = p.id
CROSS JOIN LATERAL (
  SELECT * FROM usage_usageevent d
  WHERE d.workspace_id = k.workspace_id AND d.event_id = k.event_id AND d.received_at = k.received_at
  OFFSET 0
) AS e
ORDER BY e.received_at, e.id
"""

_EVERY_PARTITION = """
SELECT e.workspace_id, e.event_id, e.body_hash, e.response_status, e.response
FROM usage_usageevent e
JOIN unnest(%b::bigint[], %b::text[]) AS p(ws, id) ON e.workspace_id = p.ws AND e.event_id = p.id
ORDER BY e.received_at, e.id
"""


def _stored_answers_query(sql, pairs):
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, [[ws for ws, _id in pairs], [event_id for _ws, event_id in pairs]], binary=True)
        return {
            (ws, event_id): {"body_hash": h, "response_status": status, "response": response}
            for ws, event_id, h, status, response in cursor.fetchall()
        }
