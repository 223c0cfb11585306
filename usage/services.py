"""Recording gateway usage: price each event, keep it, charge the ledger exactly once.

`usage_record(data)` handles one event, `usage_record_batch(items)` up to 1000; both return
`UsageResult(status, body)` objects that the API writes out as they are.

Exactly once, also under concurrency, comes from the database:
- on PostgreSQL every write is one statement (usage.pgwrite): events INSERT … ON CONFLICT
  DO NOTHING, and ledger rows, balance shards and key spends only for the rows it really
  inserted, so a concurrent twin waits for the winner's commit and then writes nothing.
  A batch is one such statement; single events of concurrent requests in one process
  share one (usage.groupcommit);
- on SQLite a single event charges the ledger first (its `reference` is unique) and then
  inserts the event with ON CONFLICT DO NOTHING, a conflict rolling the whole transaction
  back, charge included; a batch inserts its new events first and charges only the rows
  its transaction inserted, in one `ledger_post_many`.
Either way the loser reads the winner's stored first response and returns it unchanged, or
409 `idempotency_conflict` when its parsed body differs.
"""

import hashlib
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from apikeys import services as key_services
from billing.credits import credits_changed_on_commit
from billing.ledger import credits_charge, ledger_post_many, workspace_balance
from billing.models import BalanceShard, BillingAccount, EntryKind, LedgerEntry
from billing.money import format_credits, format_usd
from config.api import ApiError, InvalidRequest, reject_unknown_fields, text_is_safe
from usage import pgwrite
from pricing.events import event_as_dict, event_canonical, parse_event
from usage.groupcommit import GroupCommitter
from usage.models import NotBilledReason, UsageEvent
from pricing.quote import UnknownProduct, price_event

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
    now: object = None  # when it was received
    event_id: str | None = None
    error: UsageResult | None = None
    event: object = None
    key: object = None
    workspace_id: int | None = None
    body_hash: str = ""
    parsed: dict | None = None  # event_as_dict of the event
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

def body_hash(event, as_dict=None):
    """SHA-256 of the parsed event, so key order and 2 vs "2.0" do not matter."""
    return hashlib.sha256(event_canonical(event, as_dict).encode()).hexdigest()


# --- Preparing events -------------------------------------------------------------------------

def _prepare(index, raw, now):
    prepared = _Prepared(index=index, now=now)
    if not isinstance(raw, dict):
        prepared.error = UsageResult(400, _error_body("invalid_request", "An event must be a JSON object.", None))
        return prepared
    raw_id = raw.get("id")
    prepared.event_id = raw_id if isinstance(raw_id, str) and text_is_safe(raw_id) else None
    try:
        event = parse_event(raw, gateway=True)
        prepared.event = event
        prepared.event_id = event.id
        key = _key_for_usage(event.key_id)
        if key is None:
            raise ApiError("No API key has this key_id.", "key_id", status=401, code="invalid_api_key")
        prepared.key = key
        prepared.workspace_id = key.workspace_id
        prepared.parsed = event_as_dict(event)
        prepared.body_hash = body_hash(event, prepared.parsed)
        _price(prepared, now)
    except ApiError as error:
        prepared.error = UsageResult(error.status, _error_body(error.code, error.message, error.param))
    return prepared


def _price(prepared, now):
    """Price with the catalog in force at the event's time (pricing.quote's rule).

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
    charged too (docs/api.md), so nothing a revoke changes matters here.
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
    parsed = prepared.parsed
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

    The portable path (SQLite); PostgreSQL writes with usage.pgwrite. Rows go in
    (workspace, id) order so two batches never wait on each other in a cycle.
    """
    if not rows:
        return set()
    rows = sorted(rows, key=lambda r: (r.workspace_id, r.event_id))
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


def _write_pg(prepared_list):
    """PostgreSQL: write events of distinct (workspace, id) in one statement (usage.pgwrite);
    fills each one's `result`, the stored first answer for those recorded before."""
    items = []
    for p in prepared_list:
        status, body = _response(p, 0)  # the balance is filled in by the statement
        p.result = UsageResult(status, body)
        charge = p.charged_micro if p.billed else 0
        items.append(pgwrite.EventWrite(
            row=_row(p, p.now, status, body),
            charge=charge,
            reference=usage_reference(p.workspace_id, p.event_id),
            memo=f"{p.event.product} ({p.event_id})"[:200],
            cycle=key_services.cycle_start_cached(p.workspace_id) if charge > 0 else None,
        ))
    in_transaction = connection.in_atomic_block

    def work():
        # Inside a caller's transaction a savepoint, so a deadlock can be retried.
        with transaction.atomic() if in_transaction else nullcontext():
            return pgwrite.events_write(items)

    written = _with_retries(work)
    # The balance after each workspace's last charge (events are priced in order), to
    # billing.credits once committed: at once in autocommit, before anyone is answered.
    credits_changed_on_commit(balances={
        prepared_list[index].workspace_id: balance
        for index, balance in sorted(written.items())
        if prepared_list[index].billed and prepared_list[index].charged_micro > 0
    })
    missing = []
    for index, p in enumerate(prepared_list):
        if index not in written:
            missing.append(p)
        elif "balance" in p.result.body:
            p.result.body["balance"] = format_credits(written[index])
    stored = pgwrite.stored_answers({(p.workspace_id, p.event_id) for p in missing})
    for p in missing:
        p.result = _replayed(p, stored.get((p.workspace_id, p.event_id)))


def _record_one(prepared, now):
    """The portable single-event path (SQLite)."""

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
                key_services.key_spend_add(prepared.key, charge)
            return UsageResult(status, body)

    try:
        return _with_retries(work)
    except _AlreadyRecorded:
        return _replayed(prepared, _stored(prepared.workspace_id, prepared.event_id))


def _record_many(prepared_list, now):
    """The portable path (SQLite) for events of distinct (workspace, id); fills `result`."""
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
    if connection.vendor != "postgresql":
        result = _record_one(prepared, now)
    elif connection.in_atomic_block:
        # Inside a caller's transaction the event must be written by this thread's
        # connection, in that transaction.
        result = _record_all([prepared])[0]
    else:
        result = _committer.submit(prepared)
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
    valid = [p for p in prepared if p.error is None]
    if valid:
        _record_all(valid)
    for key in {p.key.pk: p.key for p in valid}.values():
        _touch_key(key)
    return [p.error or p.result for p in prepared]


def _record_all(prepared_list):
    """Record prepared events whose ids may repeat; returns their results, in order.

    The first occurrence of each (workspace, id) is written; a repeat gets the same answer,
    or 409 when its body differs.
    """
    first, repeats = {}, []
    for p in prepared_list:
        pair = (p.workspace_id, p.event_id)
        if pair in first:
            repeats.append((p, first[pair]))
        else:
            first[pair] = p
    if connection.vendor == "postgresql":
        _write_pg(list(first.values()))
    else:
        _record_many(list(first.values()), prepared_list[0].now)
    for p, original in repeats:
        if p.body_hash == original.body_hash:
            p.result = original.result
        else:
            p.result = _replayed(p, {"body_hash": original.body_hash})
    return [p.result for p in prepared_list]


# Single events of concurrent requests in this process share one write (usage.groupcommit).
_committer = GroupCommitter(_record_all)


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
