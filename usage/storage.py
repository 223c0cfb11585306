"""Writing prepared usage events exactly once, and charging them through billing and apikeys.

`events_record(prepared)` fills each event's `result` (its first answer, or the stored one
of an id recorded before) or `error`. Exactly once, also under concurrency, comes from the
database:
- on PostgreSQL every write is one statement (usage.pgwrite): event keys (UsageEventKey)
  INSERT … ON CONFLICT DO NOTHING, and the events, charges and key spends (SQL owned by
  billing.ledger and apikeys.services) only for the keys it really inserted, so a
  concurrent twin waits for the winner's commit and then writes nothing;
- elsewhere (SQLite) one transaction reads which events are stored, charges the new ones
  (billing.ledger.credits_charge_many: the unique reference refuses a twin), inserts their
  keys with ON CONFLICT DO NOTHING, the events, and adds key spends
  (apikeys.services.key_spends_add); a key a concurrent request inserted first rolls it all
  back and it runs again.
Either way the loser reads the winner's stored first response and returns it unchanged, or
409 `idempotency_conflict` when its parsed body differs. Keys are kept 35 days; a charged
event sent again after that is refused by the ledger's unique reference (IntegrityError,
nothing written) and answered from its stored event here.

One event whose row the database refuses (text it cannot store) never sinks the others:
the group is written again one event at a time and only that event gets an error. A
failing database (OperationalError) is raised for the caller to answer 503.
"""

from collections.abc import Sequence

from django.db import DataError, IntegrityError, connection, transaction

from apikeys.services import key_spends_add
from billing.ledger import Charge, credits_charge_many, workspace_balances
from billing.selectors import metadata_retention_days
from config.api import ApiError, InvalidRequest
from usage.models import UsageEvent, UsageEventKey
from usage.preparing import PreparedEvent, event_replayed, event_response, event_row
from usage.retries import with_retries

RETRIES = 4  # attempts when a concurrent request inserted one of our events first


class _LostRace(Exception):
    """A concurrent request inserted some of our events between our read and our insert."""


def events_record(prepared: Sequence[PreparedEvent]) -> None:
    """Write events whose ids may repeat; fills each one's `result` (or `error`).

    The first occurrence of each (workspace, id) is written; a repeat gets the same answer,
    or 409 when its body differs.
    """
    first, repeats = {}, []
    for p in prepared:
        pair = (p.workspace_id, p.event_id)
        if pair in first:
            repeats.append((p, first[pair]))
        else:
            first[pair] = p
    _write_isolating(list(first.values()))
    for p, original in repeats:
        if original.error is not None:
            p.error = original.error
        elif p.body_hash == original.body_hash:
            p.result = original.result
        else:
            p.result = event_replayed(p, {"body_hash": original.body_hash})


def _write_isolating(group: list[PreparedEvent]) -> None:
    from usage import pgwrite

    write = pgwrite.events_record_pg if connection.vendor == "postgresql" else _record_portable
    try:
        write(group)
    except (DataError, UnicodeEncodeError) as error:  # refused text: NUL, a lone surrogate
        if len(group) > 1:
            # Which row the database refused is not said: each event again on its own.
            for p in group:
                _write_isolating([p])
            return
        reason = str(error.__cause__ or error).strip().splitlines()[0][:200]
        group[0].error = InvalidRequest(
            f"This event holds a value the database cannot store ({reason}); fix it and send it again."
        )
    except IntegrityError:
        # The ledger already holds the charge of an id whose key is gone (sent again more
        # than 35 days later): the statement wrote nothing. Which event it was is not said.
        if len(group) > 1:
            for p in group:
                _write_isolating([p])
            return
        _answer_recorded_before(group[0])


def _answer_recorded_before(p: PreparedEvent) -> None:
    """The stored first answer of an event charged before whose key is gone (or 409 once
    the event itself is past retention: the ledger still says it was charged)."""
    stored = _events_stored({(p.workspace_id, p.event_id)}).get((p.workspace_id, p.event_id))
    if stored is not None:
        p.result = event_replayed(p, stored)
        return
    p.error = ApiError(
        f"Event id {p.event_id!r} was recorded and charged before; its record is no longer kept. "
        "Use a new id for a new request.", "id", status=409, code="idempotency_conflict",
    )


# --- The portable path (SQLite) -------------------------------------------------------------

def _record_portable(group: list[PreparedEvent]) -> None:
    pairs = {(p.workspace_id, p.event_id): p for p in group}

    def work():
        with transaction.atomic():
            existing = _events_stored(pairs)
            fresh = [p for pair, p in pairs.items() if pair not in existing]
            workspace_ids = sorted({p.workspace_id for p in fresh})
            balances = workspace_balances(workspace_ids=workspace_ids)
            try:
                posted = credits_charge_many(charges=[
                    Charge(p.workspace_id, p.charged_micro, p.reference, p.memo, p.now)
                    for p in fresh if p.charged_micro > 0
                ])
            except IntegrityError:  # a concurrent request charged one of them first
                raise _LostRace
            with_metadata = {p.workspace_id for p in fresh if p.event.metadata}
            retention = metadata_retention_days(workspace_ids=with_metadata) if with_metadata else {}
            rows, spends = [], {}
            for p in fresh:
                if p.reference in posted:
                    balances[p.workspace_id] = posted[p.reference]
                    pair = (p.key.pk, p.workspace_id)
                    spends[pair] = spends.get(pair, 0) + p.charged_micro
                p.result = event_response(p, balance_micro=balances[p.workspace_id])
                rows.append(event_row(p, p.result, retention_days=retention.get(p.workspace_id, 0)))
            if len(keys_insert(rows)) != len(rows):
                raise _LostRace
            events_insert(rows)
            # A batch is charged at one moment (its ledger rows are dated `now`).
            key_spends_add(amounts=spends, at=group[0].now)
            return existing

    for attempt in range(RETRIES):
        try:
            existing = with_retries(work)
            break
        except _LostRace:
            if attempt == RETRIES - 1:
                raise
    for pair, stored in existing.items():
        pairs[pair].result = event_replayed(pairs[pair], stored)


def keys_insert(rows: list) -> set[tuple[int, str]]:
    """The rows' UsageEventKeys, INSERT … ON CONFLICT DO NOTHING RETURNING: the
    (workspace_id, event_id) pairs inserted (a pair missing was inserted by someone else).

    Keys go in (workspace, id) order so two batches never wait on each other in a cycle.
    """
    if not rows:
        return set()
    rows = sorted(rows, key=lambda r: (r.workspace_id, r.event_id))
    table = connection.ops.quote_name(UsageEventKey._meta.db_table)
    inserted = set()
    for start in range(0, len(rows), 300):
        chunk = rows[start:start + 300]
        params = [value for row in chunk for value in (
            row.workspace_id, row.event_id,
            UsageEventKey._meta.get_field("received_at").get_db_prep_save(row.received_at, connection),
        )]
        sql = (
            f'INSERT INTO {table} ("workspace_id", "event_id", "received_at") VALUES '
            + ", ".join(["(%s, %s, %s)"] * len(chunk))
            + ' ON CONFLICT ("workspace_id", "event_id") DO NOTHING'
            + ' RETURNING "workspace_id", "event_id"'
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            inserted.update((ws, eid) for ws, eid in cursor.fetchall())
    return inserted


def events_insert(rows: list) -> None:
    """INSERT the event rows (their keys are already in: nothing here can conflict)."""
    if not rows:
        return
    fields = [f for f in UsageEvent._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    for start in range(0, len(rows), 500):
        chunk = rows[start:start + 500]
        params = []
        for row in chunk:
            params.extend(f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields)
        sql = f"INSERT INTO {quote(UsageEvent._meta.db_table)} ({columns}) VALUES " + ", ".join([one] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def _events_stored(pairs) -> dict[tuple[int, str], dict]:
    """Stored events among `pairs`, in one query per 500 on the (workspace, id) index."""
    table = connection.ops.quote_name(UsageEvent._meta.db_table)
    found = {}
    pairs = sorted(pairs)
    for start in range(0, len(pairs), 500):
        chunk = pairs[start:start + 500]
        rows = ", ".join(["(%s, %s)"] * len(chunk))
        params = [value for pair in chunk for value in pair]
        ids = [row.pk for row in UsageEvent.objects.raw(
            f'SELECT "id" FROM {table} WHERE ("workspace_id", "event_id") IN (VALUES {rows})', params
        )]
        for row in UsageEvent.objects.filter(pk__in=ids).values(
            "workspace_id", "event_id", "body_hash", "response_status", "response"
        ):
            found[(row["workspace_id"], row["event_id"])] = row
    return found
