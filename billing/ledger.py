"""The credit ledger: every movement of credits goes through this module.

Writes insert one LedgerEntry and add the same amount to one of the workspace's balance
shards, in one transaction. Concurrent charges of one busy workspace land on different shard
rows, so they do not queue behind a single row lock (docs/ledger.md).
"""

import random
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.db.models import F, Sum

from billing.credits import credits_changed_on_commit
from billing.models import BalanceShard, EntryKind, LedgerEntry

SHARDS = 8


@dataclass(frozen=True)
class Posting:
    entry: LedgerEntry
    created: bool  # False: the reference had already been posted; nothing moved
    balance_micro: int


def shards_create(workspace):
    BalanceShard.objects.bulk_create(
        [BalanceShard(workspace=workspace, shard=n) for n in range(SHARDS)],
        ignore_conflicts=True,
    )


def workspace_balance(workspace_id):
    """The balance in micro-credits: the sum of the shards, equal to the ledger's sum."""
    total = BalanceShard.objects.filter(workspace_id=workspace_id).aggregate(s=Sum("balance_micro"))
    return total["s"] or 0


def ledger_sum(workspace_id):
    total = LedgerEntry.objects.filter(workspace_id=workspace_id).aggregate(s=Sum("amount_micro"))
    return total["s"] or 0


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


# PostgreSQL: the row, its shard and the balance after, in one round trip. The final SUM
# reads the statement's snapshot, taken before its own UPDATE, so the amount is added.
_POST_SQL = """
WITH entry AS (
  INSERT INTO billing_ledgerentry
    (workspace_id, kind, amount_micro, reference, memo, created_by_id, created_at)
  VALUES (%(ws)s, %(kind)s, %(amount)s, %(reference)s, %(memo)s, %(actor)s, %(at)s)
  RETURNING id
), shard AS (
  UPDATE billing_balanceshard SET balance_micro = balance_micro + %(amount)s
  WHERE workspace_id = %(ws)s AND shard = %(shard)s AND EXISTS (SELECT 1 FROM entry)
  RETURNING 1
)
SELECT (SELECT id FROM entry), (SELECT count(*) FROM shard),
       (SELECT COALESCE(SUM(balance_micro), 0) FROM billing_balanceshard
        WHERE workspace_id = %(ws)s) + %(amount)s
"""


def _post_in_one_statement(fields):
    """INSERT + shard UPDATE + balance for PostgreSQL, in one round trip."""
    params = {
        "ws": fields["workspace_id"], "kind": fields["kind"], "amount": fields["amount_micro"],
        "reference": fields["reference"], "memo": fields["memo"],
        "actor": getattr(fields["created_by"], "pk", None), "at": fields["created_at"],
        "shard": random.randrange(SHARDS),
    }
    with connection.cursor() as cursor:
        cursor.execute(_POST_SQL, params)
        entry_id, shards_moved, balance = cursor.fetchone()
    entry = LedgerEntry(id=entry_id, **fields)
    if shards_moved != 1:  # a workspace without shards yet: the slow path makes them
        _add_to_a_shard(fields["workspace_id"], fields["amount_micro"])
        balance = workspace_balance(fields["workspace_id"])
    return Posting(entry, True, balance)


def ledger_post(
    *, workspace, kind, amount_micro, reference=None, memo="", actor=None, at=None, savepoint=True
):
    """Insert one ledger row and move the balance, once per `reference`.

    Returns a Posting; when the reference was already posted, `created` is False and the
    existing row is returned, so a retry is harmless.

    savepoint=False is for a caller whose own transaction handles a duplicate (the usage
    call rolls back and answers the first response): a duplicate reference then raises
    IntegrityError, and the two round trips of a savepoint are saved on the hot path.
    """
    posting = _ledger_post(
        workspace_id=getattr(workspace, "pk", workspace), kind=kind, amount_micro=amount_micro,
        reference=reference, memo=memo, actor=actor, at=at, savepoint=savepoint,
    )
    if posting.created:
        credits_changed_on_commit(balances={posting.entry.workspace_id: posting.balance_micro})
    return posting


def _ledger_post(*, workspace_id, kind, amount_micro, reference, memo, actor, at, savepoint):
    fields = dict(
        workspace_id=workspace_id,
        kind=kind,
        amount_micro=int(amount_micro),
        reference=reference,
        memo=memo[:200],
        created_by=actor,
    )
    fields["created_at"] = at or timezone.now()
    if not savepoint:
        if connection.vendor == "postgresql":
            return _post_in_one_statement(fields)
        entry = LedgerEntry.objects.create(**fields)
        _add_to_a_shard(workspace_id, entry.amount_micro)
        return Posting(entry, True, workspace_balance(workspace_id))
    try:
        with transaction.atomic():
            entry = LedgerEntry.objects.create(**fields)
            _add_to_a_shard(workspace_id, entry.amount_micro)
    except IntegrityError:
        if reference is None:
            raise
        existing = LedgerEntry.objects.filter(reference=reference).first()
        if existing is None:
            raise
        return Posting(existing, False, workspace_balance(existing.workspace_id))
    return Posting(entry, True, workspace_balance(workspace_id))


def credits_charge(*, workspace, amount_micro, reference, memo="", savepoint=True):
    """Charge usage once per reference; returns the Posting with the balance after.

    Never refuses for lack of credits: the work was already done (docs/api.md).
    """
    return ledger_post(
        workspace=workspace,
        kind=EntryKind.USAGE,
        amount_micro=-abs(int(amount_micro)),
        reference=reference,
        memo=memo,
        savepoint=savepoint,
    )


def ledger_post_many(entries):
    """Insert many new LedgerEntry objects at once (a batch of usage), moving each balance.

    The portable path (SQLite): on PostgreSQL a batch's ledger rows are part of the usage
    write itself (usage.pgwrite). The caller guarantees the references are new (usage
    events are deduplicated first); a duplicate raises IntegrityError and nothing is written.
    """
    totals = {}
    for entry in entries:
        totals[entry.workspace_id] = totals.get(entry.workspace_id, 0) + entry.amount_micro
    with transaction.atomic():
        LedgerEntry.objects.bulk_create(entries)
        # A fixed order of shard updates keeps two batches from deadlocking each other.
        for workspace_id in sorted(totals):
            _add_to_a_shard(workspace_id, totals[workspace_id])
        credits_changed_on_commit(balances={ws: workspace_balance(ws) for ws in sorted(totals)})
