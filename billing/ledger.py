"""The credit ledger: every movement of credits goes through this module.

Writes insert one LedgerEntry and add the same amount to one of the workspace's balance
shards, in one transaction. Concurrent charges of one busy workspace land on different shard
rows, so they do not queue behind a single row lock (docs/ledger.md).
"""

import random
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, Sum

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


def ledger_post(*, workspace, kind, amount_micro, reference=None, memo="", actor=None, at=None):
    """Insert one ledger row and move the balance, once per `reference`.

    Returns a Posting; when the reference was already posted, `created` is False and the
    existing row is returned, so a retry is harmless.
    """
    workspace_id = getattr(workspace, "pk", workspace)
    fields = dict(
        workspace_id=workspace_id,
        kind=kind,
        amount_micro=int(amount_micro),
        reference=reference,
        memo=memo[:200],
        created_by=actor,
    )
    if at is not None:
        fields["created_at"] = at
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


def credits_charge(*, workspace, amount_micro, reference, memo=""):
    """Charge usage once per reference; returns the Posting with the balance after.

    Never refuses for lack of credits: the work was already done (API.md).
    """
    return ledger_post(
        workspace=workspace,
        kind=EntryKind.USAGE,
        amount_micro=-abs(int(amount_micro)),
        reference=reference,
        memo=memo,
    )


def ledger_post_many(entries):
    """Insert many new LedgerEntry objects at once (a batch of usage), moving each balance.

    The caller guarantees the references are new (usage events are deduplicated first);
    a duplicate raises IntegrityError and nothing is written.
    """
    totals = {}
    for entry in entries:
        totals[entry.workspace_id] = totals.get(entry.workspace_id, 0) + entry.amount_micro
    with transaction.atomic():
        LedgerEntry.objects.bulk_create(entries)
        # A fixed order of shard updates keeps two batches from deadlocking each other.
        for workspace_id in sorted(totals):
            _add_to_a_shard(workspace_id, totals[workspace_id])
