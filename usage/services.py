"""Recording gateway usage: price each event, keep it, charge the ledger exactly once.

`usage_record(data)` handles one event, `usage_record_batch(items)` up to 1000; both return
`UsageResult(status, body)` objects that the API writes out as they are.

Exactly once, also under concurrency, comes from the database:
- single events on PostgreSQL are one statement (_ONE_SQL): the event INSERT … ON CONFLICT
  DO NOTHING, and the ledger row, balance shard and key spend only FROM its RETURNING, so a
  concurrent twin waits for the winner's commit and then writes nothing;
- single events elsewhere (SQLite) charge the ledger first (its `reference` is unique) and
  then insert the event with ON CONFLICT DO NOTHING; a conflict rolls the whole
  transaction back, charge included;
- batches insert all new events first with ON CONFLICT DO NOTHING RETURNING and charge only
  the rows this transaction inserted, in one `ledger_post_many`.
Either way the loser reads the winner's stored first response and returns it unchanged, or
409 `idempotency_conflict` when its parsed body differs.
"""

import hashlib
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from apikeys import services as key_services
from apikeys.keycache import spend_changed, spend_version_bump
from billing.ledger import SHARDS, credits_charge, ledger_post_many, workspace_balance
from billing.models import BalanceShard, BillingAccount, EntryKind, LedgerEntry
from billing.money import format_credits, format_usd
from config.api import ApiError, InvalidRequest, reject_unknown_fields
from usage.events import event_as_dict, event_canonical, parse_event
from usage.models import NotBilledReason, UsageEvent
from usage.pricing import UnknownProduct, price_event

MAX_BATCH = 1000
RETRIES = 4


@dataclass
class UsageResult:
    status: int
    body: dict


@dataclass
class _Prepared:
    """One event on its way in: parsed, its key known, priced (or refused)."""

    index: int
    event_id: str | None = None
    error: UsageResult | None = None
    event: object = None
    key: object = None
    workspace_id: int | None = None
    body_hash: str = ""
    charged_micro: int = 0
    billed: bool = False
    reason: str = ""
    unpriced_reason: str = ""
    breakdown: list = field(default_factory=list)
    price_versions: list = field(default_factory=list)
    result: UsageResult | None = None


class _AlreadyRecorded(Exception):
    """Another request recorded this id first; roll back and read its answer."""


class _LostRace(Exception):
    """A concurrent batch inserted some of our ids between our read and our insert."""


# --- Formatting ------------------------------------------------------------------------------

def _error_body(code, message, param=None):
    return {"error": {"code": code, "message": message, "param": param}}


# --- Canonical body: what "the same body" means --------------------------------------------

def body_hash(event):
    """SHA-256 of the parsed event, so key order and 2 vs "2.0" do not matter."""
    return hashlib.sha256(event_canonical(event).encode()).hexdigest()


# --- Preparing events -------------------------------------------------------------------------

def _prepare(index, raw, now):
    prepared = _Prepared(index=index)
    if not isinstance(raw, dict):
        prepared.error = UsageResult(400, _error_body("invalid_request", "An event must be a JSON object.", None))
        return prepared
    raw_id = raw.get("id")
    prepared.event_id = raw_id if isinstance(raw_id, str) else None
    try:
        event = parse_event(raw, gateway=True)
        prepared.event = event
        prepared.event_id = event.id
        key = _key_for_usage(event.key_id)
        if key is None:
            raise ApiError("No API key has this key_id.", "key_id", status=401, code="invalid_api_key")
        prepared.key = key
        prepared.workspace_id = key.workspace_id
        prepared.body_hash = body_hash(event)
        _price(prepared, now)
    except ApiError as error:
        prepared.error = UsageResult(error.status, _error_body(error.code, error.message, error.param))
    return prepared


def _price(prepared, now):
    """Price with the catalog in force at the event's time (usage.pricing's rule).

    4xx/5xx come back not billed (with their rows where priceable); only a successful
    event can be unpriced.
    """
    event = prepared.event
    try:
        quote = price_event(event, workspace=prepared.key.workspace)
    except UnknownProduct as error:
        prepared.reason = NotBilledReason.UNKNOWN_PRODUCT
        prepared.unpriced_reason = error.message
        return
    prepared.breakdown = quote.breakdown
    prepared.price_versions = quote.price_versions
    if not quote.billed:
        prepared.reason = quote.not_billed_reason
        return
    prepared.billed = True
    prepared.charged_micro = int(quote.total_micro)


def _response(prepared, balance_micro):
    """(status, body) of the first answer for a recordable event."""
    if prepared.reason == NotBilledReason.UNKNOWN_PRODUCT:
        body = _error_body(
            "unknown_product",
            f"{prepared.unpriced_reason} The event was kept as unpriced and will be charged "
            "once staff add a price for it.",
            "product",
        )
        body["id"] = prepared.event_id
        return 404, body
    body = {
        "id": prepared.event_id,
        "billed": prepared.billed,
        "charged": format_credits(prepared.charged_micro) if prepared.billed else "0",
        "usd": format_usd(prepared.charged_micro) if prepared.billed else "0",
        "breakdown": prepared.breakdown,
        "balance": format_credits(balance_micro),
    }
    if not prepared.billed:
        body["not_billed_reason"] = prepared.reason
    return 200, body


_key_cache = {}


def _key_for_usage(key_id):
    """key_for_usage, remembered a minute per process.

    Safe to cache: a key's workspace never changes, and revoked or expired keys are
    charged too (API.md), so nothing a revoke changes matters here.
    """
    hit = _key_cache.get(key_id)
    if hit and hit[1] > time.monotonic():
        return hit[0]
    key = key_services.key_for_usage(key_id)
    if key is not None:
        if len(_key_cache) > 50_000:
            _key_cache.clear()
        _key_cache[key_id] = (key, time.monotonic() + 60)
    return key


_retention_cache = {}


def _metadata_retention_days(workspace_id):
    """The plan's metadata retention; cached a minute per process (plans rarely change)."""
    hit = _retention_cache.get(workspace_id)
    if hit and hit[1] > time.monotonic():
        return hit[0]
    days = (
        BillingAccount.objects.filter(workspace_id=workspace_id)
        .values_list("plan__metadata_retention_days", flat=True)
        .first()
    ) or 0
    _retention_cache[workspace_id] = (days, time.monotonic() + 60)
    return days


def _row(prepared, now, status, body):
    event = prepared.event
    metadata = event.metadata or None
    metadata_expires_at = None
    if metadata:
        days = _metadata_retention_days(prepared.workspace_id)
        if days:
            metadata_expires_at = now + timedelta(days=days)
        else:
            metadata = None  # zero data retention: never stored at all
    parsed = event_as_dict(event)
    charged = prepared.billed and prepared.charged_micro > 0
    # The column values by attname, not a model instance: the insert reads them with
    # getattr, and a model's __init__ costs more than the rest of this function.
    return SimpleNamespace(
        workspace_id=prepared.workspace_id,
        key_id=prepared.key.pk,
        event_id=prepared.event_id,
        product=event.product,
        tier=event.tier if event.line else "",
        grounding=event.grounding,
        quantity=parsed["line"]["quantity"] if parsed["line"] else {},
        lines=parsed["lines"] or None,
        status_code=event.status_code,
        queue_seconds=parsed["queue_seconds"],
        occurred_at=event.occurred_at or now,
        received_at=now,
        charged_at=now if charged else None,
        # The real time, also for back-dated writes, so the roll-up's watermark sees them.
        touched_at=timezone.now(),
        price_versions=prepared.price_versions,
        breakdown=prepared.breakdown,
        charged_micro=prepared.charged_micro if prepared.billed else 0,
        billed=prepared.billed,
        not_billed_reason=prepared.reason,
        unpriced_reason=prepared.unpriced_reason,
        body_hash=prepared.body_hash,
        response_status=status,
        response=body,
        metadata=metadata,
        metadata_expires_at=metadata_expires_at,
    )


def usage_reference(workspace_id, event_id):
    return f"usage:{workspace_id}:{event_id}"


# --- Writing ---------------------------------------------------------------------------------

def insert_new_events(rows):
    """INSERT … ON CONFLICT DO NOTHING RETURNING: the (workspace_id, event_id) pairs inserted.

    Rows go in (workspace, id) order so two batches never wait on each other in a cycle.
    """
    if not rows:
        return set()
    rows = sorted(rows, key=lambda r: (r.workspace_id, r.event_id))
    if connection.vendor == "postgresql":
        return _insert_unnest(rows)
    fields = [f for f in UsageEvent._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    inserted = set()
    for start in range(0, len(rows), 500):
        chunk = rows[start:start + 500]
        params = []
        for row in chunk:
            params.extend(f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields)
        sql = (
            f"INSERT INTO {quote(UsageEvent._meta.db_table)} ({columns}) VALUES "
            + ", ".join([one] * len(chunk))
            + ' ON CONFLICT ("workspace_id", "event_id") DO NOTHING'
            + ' RETURNING "workspace_id", "event_id"'
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            inserted.update((ws, eid) for ws, eid in cursor.fetchall())
    return inserted


def _insert_unnest(rows):
    """PostgreSQL: one array parameter per column (unnest), so a batch of 1000 events is one
    short statement instead of 29,000 placeholders for the driver to parse."""
    import psycopg
    from psycopg.types.json import Jsonb

    fields = [f for f in UsageEvent._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    columns, arrays, params = [], [], []
    for f in fields:
        values = [getattr(row, f.attname) for row in rows]
        if f.get_internal_type() == "JSONField":
            values = [None if v is None else Jsonb(v) for v in values]
        columns.append(quote(f.column))
        arrays.append(f"%b::{f.db_type(connection)}[]")
        params.append(values)
    sql = (
        f"INSERT INTO {quote(UsageEvent._meta.db_table)} ({', '.join(columns)}) "
        f"SELECT * FROM unnest({', '.join(arrays)})"
        ' ON CONFLICT ("workspace_id", "event_id") DO NOTHING'
        ' RETURNING "workspace_id", "event_id"'
    )
    connection.ensure_connection()
    # A server-side-binding cursor in binary: Django's default client-side cursor would
    # escape every array element with regular expressions, the slowest part of a batch.
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, binary=True)
        return {(ws, eid) for ws, eid in cursor.fetchall()}


def _balances(workspace_ids):
    rows = (
        BalanceShard.objects.filter(workspace_id__in=workspace_ids)
        .values("workspace_id")
        .annotate(total=Sum("balance_micro"))
    )
    found = {row["workspace_id"]: row["total"] for row in rows}
    return {ws: found.get(ws, 0) for ws in workspace_ids}


def _is_retryable(error):
    code = getattr(getattr(error, "__cause__", None), "sqlstate", None)
    return code in ("40P01", "40001") or "database is locked" in str(error)


def _with_retries(work):
    for attempt in range(RETRIES):
        try:
            return work()
        except OperationalError as error:
            # A deadlock or serialization failure rolls everything back; doing it again
            # is safe because nothing was written.
            if attempt == RETRIES - 1 or not _is_retryable(error):
                raise
            time.sleep(0.01 * (attempt + 1))


def _replayed(prepared, stored):
    if stored is None:
        raise RuntimeError("An event id conflicted but no stored event was found.")
    if stored["body_hash"] != prepared.body_hash:
        return UsageResult(
            409,
            _error_body(
                "idempotency_conflict",
                f"Event id {prepared.event_id!r} was already recorded with a different body. "
                "Use a new id for a new request.",
                "id",
            ),
        )
    return UsageResult(stored["response_status"], stored["response"])


def _stored(workspace_id, event_id):
    return (
        UsageEvent.objects.filter(workspace_id=workspace_id, event_id=event_id)
        .values("body_hash", "response_status", "response")
        .first()
    )


# PostgreSQL, one event, one statement: the event row, its ledger row, a balance shard, the
# key's spend of the cycle and the balance after, all or nothing (one statement is atomic
# even in autocommit, so no BEGIN/COMMIT round trips). Everything after the event INSERT
# reads FROM its RETURNING, so a replay or a concurrent twin (ON CONFLICT DO NOTHING waits
# for the winner's commit) writes nothing at all. The balance is the shards' sum in the
# statement's snapshot minus this charge, formatted like billing.money.format_credits.
_ONE_SQL = """
WITH bal AS (
  SELECT COALESCE(SUM(balance_micro), 0) - %(charge)s::bigint AS micro
  FROM billing_balanceshard WHERE workspace_id = %(ws)s::bigint
), ev AS (
  INSERT INTO usage_usageevent ({columns})
  SELECT {values} FROM bal
  ON CONFLICT (workspace_id, event_id) DO NOTHING
  RETURNING id
), entry AS (
  INSERT INTO billing_ledgerentry
    (workspace_id, kind, amount_micro, reference, memo, created_by_id, created_at)
  SELECT %(ws)s::bigint, %(kind)s::text, -%(charge)s::bigint, %(reference)s::text,
         %(memo)s::text, NULL, %(now)s::timestamptz
  FROM ev WHERE %(charge)s::bigint > 0
  RETURNING id
), shard AS (
  INSERT INTO billing_balanceshard (workspace_id, shard, balance_micro)
  SELECT %(ws)s::bigint, %(shard)s::int, -%(charge)s::bigint FROM entry
  ON CONFLICT (workspace_id, shard)
  DO UPDATE SET balance_micro = billing_balanceshard.balance_micro + EXCLUDED.balance_micro
  RETURNING 1
), spend AS (
  INSERT INTO apikeys_keyspend (key_id, cycle_start, spent_micro)
  SELECT %(key)s::bigint, %(cycle)s::timestamptz, %(charge)s::bigint FROM entry
  ON CONFLICT (key_id, cycle_start)
  DO UPDATE SET spent_micro = apikeys_keyspend.spent_micro + EXCLUDED.spent_micro
  RETURNING 1
)
SELECT (SELECT micro FROM bal) FROM ev
"""
_BALANCE_JSON = (
    "jsonb_set(%(f_response)s::jsonb, '{balance}', "
    "to_jsonb(round(bal.micro::numeric / 1000000, 6)::text))"
)
# Every parameter carries an explicit type: the statement is prepared once per process
# (server-side binding), and a type guessed from the first value must never narrow a later
# one. Text, not varchar(n): an explicit cast to varchar(n) would truncate silently, an
# assignment to the column refuses what is too long.
_CASTS = {
    "CharField": "text", "JSONField": "jsonb", "DateTimeField": "timestamptz",
    "BooleanField": "boolean", "BigIntegerField": "bigint", "PositiveSmallIntegerField": "bigint",
    "ForeignKey": "bigint",
}
_one_sql_cache = {}


def _one_sql(with_balance):
    sql = _one_sql_cache.get(with_balance)
    if sql is None:
        quote = connection.ops.quote_name
        fields = [f for f in UsageEvent._meta.concrete_fields if not f.primary_key]
        values = []
        for f in fields:
            if f.attname == "response" and with_balance:
                values.append(_BALANCE_JSON)
            else:
                values.append(f"%(f_{f.attname})s::{_CASTS[f.get_internal_type()]}")
        sql = _ONE_SQL.format(columns=", ".join(quote(f.column) for f in fields), values=", ".join(values))
        _one_sql_cache[with_balance] = sql
    return sql


_EVENT_FIELDS = None


def _record_one_pg(prepared, now):
    """The single-event path on PostgreSQL (see _ONE_SQL). None when nothing was inserted."""
    import psycopg
    from psycopg.types.json import Jsonb

    global _EVENT_FIELDS
    if _EVENT_FIELDS is None:
        _EVENT_FIELDS = [
            (f"f_{f.attname}", f.attname, f.get_internal_type() == "JSONField")
            for f in UsageEvent._meta.concrete_fields if not f.primary_key
        ]
    charge = prepared.charged_micro if prepared.billed else 0
    status, body = _response(prepared, 0)  # the balance is filled in by the statement
    row = _row(prepared, now, status, body)
    # The values _row made are already of the columns' types (aware datetimes, str, int,
    # bool); only JSON needs wrapping, exactly as JSONField.get_db_prep_save would (no custom
    # encoder on these fields), at a fraction of the field machinery's cost.
    params = {}
    for name, attname, is_json in _EVENT_FIELDS:
        value = getattr(row, attname)
        params[name] = Jsonb(value) if is_json and value is not None else value
    params.update(
        ws=prepared.workspace_id, charge=charge, kind=EntryKind.USAGE.value, now=now,
        reference=usage_reference(prepared.workspace_id, prepared.event_id),
        memo=f"{prepared.event.product} ({prepared.event_id})"[:200],
        shard=random.randrange(SHARDS), key=prepared.key.pk,
        cycle=connection.ops.adapt_datetimefield_value(
            key_services.cycle_start_cached(prepared.workspace_id)) if charge > 0 else None,
    )
    sql = _one_sql("balance" in body)
    in_transaction = connection.in_atomic_block
    if charge > 0 and in_transaction:
        spend_changed(prepared.workspace_id)  # now and after the caller's commit

    def work():
        with transaction.atomic() if in_transaction else nullcontext():
            connection.ensure_connection()
            # psycopg's own cursor: server-side binding and a prepared statement, so neither
            # the client quotes 30 values nor the server plans five statements each time.
            with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
                cursor.execute(sql, params, prepare=True)
                return cursor.fetchone()

    found = _with_retries(work)
    if charge > 0 and not in_transaction:
        # authorize's cached spend of the workspace is stale from here, before we return.
        # spend_changed also bumps before the write, for readers inside a transaction's
        # window; an autocommit statement has no such window (it is visible exactly when it
        # returns), so a bump before it would guard nothing this one does not.
        spend_version_bump(prepared.workspace_id)
    if found is None:
        return None
    if "balance" in body:
        body["balance"] = format_credits(found[0])
    return UsageResult(status, body)


def _record_one(prepared, now):
    if connection.vendor == "postgresql":
        result = _record_one_pg(prepared, now)
        if result is None:
            return _replayed(prepared, _stored(prepared.workspace_id, prepared.event_id))
        return result

    def work():
        with transaction.atomic():
            charge = prepared.charged_micro if prepared.billed else 0
            if charge > 0:
                try:
                    posting = credits_charge(
                        workspace=prepared.workspace_id,
                        amount_micro=charge,
                        reference=usage_reference(prepared.workspace_id, prepared.event_id),
                        memo=f"{prepared.event.product} ({prepared.event_id})"[:200],
                        savepoint=False,
                    )
                except IntegrityError:  # the reference exists: a twin was recorded first
                    raise _AlreadyRecorded
                balance = posting.balance_micro
            else:
                balance = workspace_balance(prepared.workspace_id)
            status, body = _response(prepared, balance)
            if not insert_new_events([_row(prepared, now, status, body)]):
                raise _AlreadyRecorded
            if charge > 0:
                # The ledger row already told authorize's caches; no second announcement.
                key_services.key_spend_add(prepared.key, charge, announce=False)
            return UsageResult(status, body)

    try:
        return _with_retries(work)
    except _AlreadyRecorded:
        return _replayed(prepared, _stored(prepared.workspace_id, prepared.event_id))


def _record_many(prepared_list, now):
    """Record the first occurrences of a batch; fills each one's `result`."""
    pairs = {(p.workspace_id, p.event_id): p for p in prepared_list}
    workspace_ids = sorted({p.workspace_id for p in prepared_list})

    def work():
        with transaction.atomic():
            existing = _existing(pairs)
            fresh = [p for pair, p in pairs.items() if pair not in existing]
            balances = _balances(workspace_ids)
            for p in fresh:
                if p.billed:
                    balances[p.workspace_id] -= p.charged_micro
            rows = []
            for p in fresh:
                status, body = _response(p, balances[p.workspace_id])
                p.result = UsageResult(status, body)
                rows.append(_row(p, now, status, body))
            inserted = insert_new_events(rows)
            if len(inserted) != len(rows):
                raise _LostRace
            entries, spends = [], {}
            for p in fresh:
                if p.billed and p.charged_micro > 0:
                    entries.append(LedgerEntry(
                        workspace_id=p.workspace_id, kind=EntryKind.USAGE,
                        amount_micro=-p.charged_micro,
                        reference=usage_reference(p.workspace_id, p.event_id),
                        memo=f"{p.event.product} ({p.event_id})"[:200],
                        created_at=now,
                    ))
                    pair = (p.key.pk, p.workspace_id)
                    spends[pair] = spends.get(pair, 0) + p.charged_micro
            if entries:
                ledger_post_many(entries)
            key_services.key_spends_add(spends)
            return existing

    for attempt in range(RETRIES):
        try:
            existing = _with_retries(work)
            break
        except _LostRace:
            if attempt == RETRIES - 1:
                raise
    for pair, stored in existing.items():
        pairs[pair].result = _replayed(pairs[pair], stored)


def _existing(pairs):
    """Stored events among `pairs`, in one query on the (workspace, event id) unique index."""
    if not pairs:
        return {}
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


# --- Public entry points -----------------------------------------------------------------------

def usage_record(data, *, now=None):
    """Record one gateway event (a dict as received). Returns a UsageResult.

    400/401 are raised as ApiError (nothing recorded); 404 unknown_product and 409
    idempotency_conflict come back as results.
    """
    now = now or timezone.now()
    prepared = _prepare(0, data, now)
    if prepared.error is not None:
        error = prepared.error
        raise ApiError(
            error.body["error"]["message"], error.body["error"]["param"],
            status=error.status, code=error.body["error"]["code"],
        )
    result = _record_one(prepared, now)
    _touch_key(prepared.key)
    return result


def usage_record_batch(items, *, now=None):
    """Record up to 1000 events; returns one UsageResult per item, in order.

    Invalid events get their own error in their slot and the valid ones are still charged.
    A batch may mix workspaces; an id repeated inside the batch gets the first occurrence's
    result (or 409 when its body differs).
    """
    if not isinstance(items, list) or not items:
        raise InvalidRequest("`events` must be a list of 1 to 1000 events.", "events")
    if len(items) > MAX_BATCH:
        raise InvalidRequest(f"A batch holds at most {MAX_BATCH} events; this one has {len(items)}.", "events")
    now = now or timezone.now()
    prepared = [_prepare(i, raw, now) for i, raw in enumerate(items)]
    for p in prepared:
        if p.error is not None:
            error = p.error.body["error"]
            if error.get("param"):
                error["param"] = f"events[{p.index}].{error['param']}"
            p.error = UsageResult(p.error.status, {"id": p.event_id, "error": error})
    first, repeats = {}, []
    for p in prepared:
        if p.error is not None:
            continue
        pair = (p.workspace_id, p.event_id)
        if pair in first:
            repeats.append((p, first[pair]))
        else:
            first[pair] = p
    if first:
        _record_many(list(first.values()), now)
    for p, original in repeats:
        if p.body_hash == original.body_hash:
            p.result = original.result
        else:
            p.result = _replayed(p, {"body_hash": original.body_hash})
    for key in {p.key.pk: p.key for p in first.values()}.values():
        _touch_key(key)
    return [p.error or p.result for p in prepared]


def _touch_key(key):
    # At most one write a minute per key (apikeys.services.key_touch).
    key_services.key_touch(key, timezone.now())


def usage_body_parse(data):
    """Split a POST body into ("single", event) or ("batch", events)."""
    if "events" in data:
        reject_unknown_fields(data, {"events"})
        return "batch", data["events"]
    return "single", data


# --- Staff: charging events priced after the fact -----------------------------------------

def unpriced_event_charge(usage_event, *, now=None):
    """Price an unpriced event with today's catalog and charge it once. Returns True if charged.

    Goes through the same parse, price and ledger functions as the gateway; the ledger
    reference of the event id makes a second click (or two staff at once) charge nothing.
    """
    now = now or timezone.now()
    with transaction.atomic():
        event_row = UsageEvent.objects.select_for_update().select_related("key__workspace").get(pk=usage_event.pk)
        if not event_row.is_unpriced:
            return False
        raw = _raw_from_row(event_row)
        event = parse_event(raw, gateway=True)
        quote = price_event(event, workspace=event_row.key.workspace, at=now)
        charged = int(quote.total_micro)
        if charged > 0:
            posting = credits_charge(
                workspace=event_row.workspace_id, amount_micro=charged,
                reference=usage_reference(event_row.workspace_id, event_row.event_id),
                memo=f"{event_row.product} ({event_row.event_id}), priced by staff"[:200],
            )
            if not posting.created:
                return False
            key_services.key_spend_add(event_row.key, charged)
        UsageEvent.objects.filter(pk=event_row.pk).update(
            billed=True, not_billed_reason="", charged_micro=charged, charged_at=now, touched_at=timezone.now(),
            breakdown=quote.breakdown,
            price_versions=quote.price_versions,
        )
    return True


def _raw_from_row(row):
    raw = {
        "id": row.event_id, "key_id": row.key.public_id, "product": row.product,
        "status_code": row.status_code,
        "occurred_at": row.occurred_at.isoformat().replace("+00:00", "Z"),
    }
    if row.quantity:
        raw.update(tier=row.tier or "auto", grounding=row.grounding, quantity=row.quantity)
    if row.lines:
        raw["lines"] = row.lines
    return raw
