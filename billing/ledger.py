"""The credit ledger: every movement of credits goes through this module.

Writes insert one LedgerEntry and add the same amount to one of the workspace's balance
shards, in one transaction. Concurrent charges of one busy workspace land on different shard
rows, so they do not queue behind a single row lock (docs/ledger.md).
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone as dt_timezone
from typing import TYPE_CHECKING, NamedTuple

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.db.models import Count, F, Sum
from django.db.models.functions import TruncDate

from billing.credits import credits_changed_on_commit
from billing.models import BalanceShard, EntryKind, LedgerEntry, UsageDayTotal

if TYPE_CHECKING:
    from teams.models import Workspace

SHARDS = 8


@dataclass(frozen=True)
class Posting:
    entry: LedgerEntry
    created: bool  # False: the reference had already been posted; nothing moved
    balance_micro: int


def shards_create(workspace: "Workspace") -> None:
    BalanceShard.objects.bulk_create(
        [BalanceShard(workspace=workspace, shard=n) for n in range(SHARDS)],
        ignore_conflicts=True,
    )


def workspace_balance(workspace_id: int) -> int:
    """The balance in micro-credits: the sum of the shards, equal to the ledger's sum."""
    total = BalanceShard.objects.filter(workspace_id=workspace_id).aggregate(s=Sum("balance_micro"))
    return total["s"] or 0


def workspace_balances(*, workspace_ids) -> dict[int, int]:
    """workspace_balance of many workspaces in one query."""
    rows = (
        BalanceShard.objects.filter(workspace_id__in=workspace_ids)
        .values("workspace_id")
        .annotate(total=Sum("balance_micro"))
    )
    found = {row["workspace_id"]: row["total"] for row in rows}
    return {ws: found.get(ws) or 0 for ws in workspace_ids}


def ledger_sum(workspace_id: int) -> int:
    total = LedgerEntry.objects.filter(workspace_id=workspace_id).aggregate(s=Sum("amount_micro"))
    return total["s"] or 0


def ledger_mismatches() -> list[tuple[int, int, int]]:
    """Every workspace whose balance (the sum of its shards) differs from the sum of its
    ledger, as (workspace_id, balance_micro, ledger_micro); empty when all agree. What
    `manage.py check_ledger` reports, and what the test suite checks after every test."""
    ledger = dict(
        LedgerEntry.objects.values("workspace_id").annotate(s=Sum("amount_micro")).values_list("workspace_id", "s")
    )
    shards = dict(
        BalanceShard.objects.values("workspace_id").annotate(s=Sum("balance_micro")).values_list("workspace_id", "s")
    )
    mismatches = []
    for workspace_id in sorted(set(ledger) | set(shards)):
        balance, expected = shards.get(workspace_id) or 0, ledger.get(workspace_id) or 0
        if balance != expected:
            mismatches.append((workspace_id, balance, expected))
    return mismatches


def usage_day_mismatches() -> list[tuple[int, date, tuple[int, int], tuple[int, int]]]:
    """Every (workspace, UTC day) whose usage total (UsageDayTotal) differs from the usage
    charges of its ledger, as (workspace_id, day, (total_micro, charges), (ledger_micro,
    rows)); empty when all agree (the test suite checks it after every test, with
    ledger_mismatches)."""
    ledger = {
        (ws, day): (-amount, rows) for ws, day, amount, rows in
        LedgerEntry.objects.filter(kind=EntryKind.USAGE).annotate(day=TruncDate("created_at"))
        .values("workspace_id", "day").annotate(s=Sum("amount_micro"), n=Count("id"))
        .values_list("workspace_id", "day", "s", "n")
    }
    totals = {
        (ws, day): (amount, charges) for ws, day, amount, charges in
        UsageDayTotal.objects.values("workspace_id", "day").annotate(s=Sum("charged_micro"), n=Sum("charges"))
        .values_list("workspace_id", "day", "s", "n")
    }
    nothing = (0, 0)
    return [
        (ws, day, totals.get((ws, day), nothing), ledger.get((ws, day), nothing))
        for ws, day in sorted(set(ledger) | set(totals))
        if totals.get((ws, day), nothing) != ledger.get((ws, day), nothing)
    ]


def utc_day(moment: datetime) -> date:
    return moment.astimezone(dt_timezone.utc).date()


def _add_to_usage_day(workspace_id, day, charged_micro, charges=1):
    """Add `charges` usage charges of `charged_micro` in all (positive) to one random shard
    of the workspace's day total, making the row on the day's first charge (one upsert,
    atomic under concurrency)."""
    table = UsageDayTotal._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (workspace_id, day, shard, charged_micro, charges) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (workspace_id, day, shard)"
            f" DO UPDATE SET charged_micro = {table}.charged_micro + excluded.charged_micro,"
            f" charges = {table}.charges + excluded.charges",
            [workspace_id, connection.ops.adapt_datefield_value(day), random.randrange(SHARDS), charged_micro,
             charges],
        )


def _add_to_a_shard(workspace_id, amount_micro):
    updated = BalanceShard.objects.filter(
        workspace_id=workspace_id, shard=random.randrange(SHARDS)
    ).update(balance_micro=F("balance_micro") + amount_micro)
    if updated != 1:
        # Workspaces made before shards existed (or by hand in the admin) get them now.
        BalanceShard.objects.bulk_create(
            [BalanceShard(workspace_id=workspace_id, shard=n) for n in range(SHARDS)],
            ignore_conflicts=True,
        )
        BalanceShard.objects.filter(workspace_id=workspace_id, shard=0).update(
            balance_micro=F("balance_micro") + amount_micro
        )


def ledger_post(
    *, workspace, kind: str, amount_micro: int, reference: str | None = None, memo: str = "",
    actor=None, at: datetime | None = None,
) -> Posting:
    """Insert one ledger row and move the balance, once per `reference`.

    Returns a Posting; when the reference was already posted, `created` is False and the
    existing row is returned, so a retry is harmless. Listeners hear of it after the commit
    (billing.credits).
    """
    posting = _ledger_post(
        workspace_id=getattr(workspace, "pk", workspace), kind=kind, amount_micro=amount_micro,
        reference=reference, memo=memo, actor=actor, at=at,
    )
    if posting.created:
        credits_changed_on_commit(balances={posting.entry.workspace_id: posting.balance_micro})
    return posting


def _ledger_post(*, workspace_id, kind, amount_micro, reference, memo, actor, at):
    fields = dict(
        workspace_id=workspace_id,
        kind=kind,
        amount_micro=int(amount_micro),
        reference=reference,
        memo=memo[:200],
        created_by=actor,
    )
    fields["created_at"] = at or timezone.now()
    try:
        with transaction.atomic():
            entry = LedgerEntry.objects.create(**fields)
            _add_to_a_shard(workspace_id, entry.amount_micro)
            if kind == EntryKind.USAGE:
                _add_to_usage_day(workspace_id, utc_day(entry.created_at), -entry.amount_micro)
    except IntegrityError:
        if reference is None:
            raise
        existing = LedgerEntry.objects.filter(reference=reference).first()
        if existing is None:
            raise
        return Posting(existing, False, workspace_balance(existing.workspace_id))
    return Posting(entry, True, workspace_balance(workspace_id))


def credits_charge(*, workspace, amount_micro: int, reference: str, memo: str = "") -> Posting:
    """Charge usage once per reference; returns the Posting with the balance after.

    Never refuses for lack of credits: the work was already done (docs/api.md).
    """
    return ledger_post(
        workspace=workspace,
        kind=EntryKind.USAGE,
        amount_micro=-abs(int(amount_micro)),
        reference=reference,
        memo=memo,
    )


class Charge(NamedTuple):
    """One usage charge for credits_charge_many: `amount_micro` (positive) is taken once per
    `reference`; `at` dates the ledger row."""

    workspace_id: int
    amount_micro: int
    reference: str
    memo: str
    at: datetime


def credits_charge_many(*, charges: Sequence[Charge]) -> dict[str, int]:
    """Charge many usage references at once; returns {reference: balance after} of those
    this call posted, the balance running in `charges` order per workspace.

    A reference posted before is skipped (nothing moves). PostgreSQL: one statement
    (credits_charge_sql, also part of the usage write). Elsewhere: the rows in one bulk
    insert and one shard update per workspace, in workspace order (two batches never wait
    on each other in a cycle); a reference posted concurrently raises IntegrityError and
    nothing is written. Listeners hear of it after the commit (billing.credits).
    """
    charges = [c for c in charges if c.amount_micro > 0]
    if not charges:
        return {}
    if connection.vendor == "postgresql":
        posted = _charge_many_in_one_statement(charges)
    else:
        posted = _charge_many_portable(charges)
    last = {}
    for charge in charges:
        if charge.reference in posted:
            last[charge.workspace_id] = posted[charge.reference]
    credits_changed_on_commit(balances=last)
    return posted


def _charge_many_portable(charges):
    with transaction.atomic():
        known = set(
            LedgerEntry.objects.filter(reference__in=[c.reference for c in charges])
            .values_list("reference", flat=True)
        )
        fresh = [c for c in charges if c.reference not in known]
        balances = {ws: workspace_balance(ws) for ws in sorted({c.workspace_id for c in fresh})}
        LedgerEntry.objects.bulk_create([
            LedgerEntry(workspace_id=c.workspace_id, kind=EntryKind.USAGE, amount_micro=-c.amount_micro,
                        reference=c.reference, memo=c.memo[:200], created_at=c.at)
            for c in fresh
        ])
        totals, days, posted = {}, {}, {}
        for c in fresh:
            totals[c.workspace_id] = totals.get(c.workspace_id, 0) + c.amount_micro
            day = (c.workspace_id, utc_day(c.at))
            charged, count = days.get(day, (0, 0))
            days[day] = (charged + c.amount_micro, count + 1)
            posted[c.reference] = balances[c.workspace_id] - totals[c.workspace_id]
        for workspace_id in sorted(totals):
            _add_to_a_shard(workspace_id, -totals[workspace_id])
        for (workspace_id, day), (charged, count) in sorted(days.items()):
            _add_to_usage_day(workspace_id, day, charged, count)
    return posted


def credits_charge_sql(*, source: str, references_new: bool = False) -> str:
    """PostgreSQL: the CTEs `entry`, `shard` and `usage_day` that charge every row of the
    relation `source` (columns workspace_id, charge > 0, reference, memo, created_at), for a
    statement that starts with WITH. A reference posted before is skipped; `entry` returns
    (workspace_id, amount_micro, reference, created_at) of the rows posted; one random
    shard per workspace takes their sum, in workspace order, made if missing, and one
    random shard of each (workspace, UTC day) usage total (UsageDayTotal) likewise.

    `references_new`: the caller's statement has already proved every reference new (the
    usage write charges only the events its own insert stored), so every row of `source`
    is posted and the caller may add key spends from `source` itself; a reference that did
    exist fails the whole statement on the unique index instead of being skipped, so
    nothing is ever posted or counted twice."""
    conflict = "" if references_new else "\n  ON CONFLICT (reference) DO NOTHING"
    return f"""entry AS (
  INSERT INTO billing_ledgerentry
    (workspace_id, kind, amount_micro, reference, memo, created_by_id, created_at)
  SELECT workspace_id, '{EntryKind.USAGE.value}', -charge, reference, memo, NULL, created_at
  FROM {source} ORDER BY reference{conflict}
  RETURNING workspace_id, amount_micro, reference, created_at
), shard AS (
  INSERT INTO billing_balanceshard (workspace_id, shard, balance_micro)
  SELECT workspace_id, floor(random() * {SHARDS})::int, SUM(amount_micro) FROM entry
  GROUP BY workspace_id ORDER BY workspace_id
  ON CONFLICT (workspace_id, shard)
  DO UPDATE SET balance_micro = billing_balanceshard.balance_micro + EXCLUDED.balance_micro
), usage_day AS (
  INSERT INTO billing_usagedaytotal (workspace_id, day, shard, charged_micro, charges)
  SELECT workspace_id, (created_at AT TIME ZONE 'UTC')::date, floor(random() * {SHARDS})::int,
         -SUM(amount_micro), COUNT(*)
  FROM entry GROUP BY 1, 2 ORDER BY 1, 2
  ON CONFLICT (workspace_id, day, shard)
  DO UPDATE SET charged_micro = billing_usagedaytotal.charged_micro + EXCLUDED.charged_micro,
                charges = billing_usagedaytotal.charges + EXCLUDED.charges
)"""


def credits_balance_sql(*, workspace_id: str) -> str:
    """PostgreSQL: the balance of the workspace `workspace_id` (an SQL expression) in the
    statement's snapshot, as a scalar subquery."""
    return (f"(SELECT COALESCE(SUM(s.balance_micro), 0) FROM billing_balanceshard s "
            f"WHERE s.workspace_id = {workspace_id})")


def _charge_many_in_one_statement(charges):
    import psycopg

    sql = f"""WITH input AS (
  SELECT * FROM unnest(%b::int[], %b::bigint[], %b::bigint[], %b::text[], %b::text[],
                       %b::timestamptz[]) AS i(ord, workspace_id, charge, reference, memo, created_at)
), {credits_charge_sql(source="input")}
SELECT i.reference, {credits_balance_sql(workspace_id="i.workspace_id")}
       - SUM(i.charge) OVER (PARTITION BY i.workspace_id ORDER BY i.ord)
FROM input i JOIN entry e USING (reference)"""
    columns = [list(range(len(charges)))] + [list(column) for column in zip(*charges)]
    columns[4] = [memo[:200] for memo in columns[4]]
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, columns, binary=True)
        return dict(cursor.fetchall())
