"""Writes to keys and service tokens, and the per-key spend that usage reports."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from apikeys.keycache import revocation_publish, spends_changed
from apikeys.models import APIKey, KeySpend, ServiceToken
from apikeys.secrets_format import (
    KEY_PREFIX,
    SERVICE_TOKEN_PREFIX,
    secret_generate,
    secret_hash,
    secret_visible_prefix,
)
from apikeys.selectors import key_may_revoke
from billing.cycles import cycle_start_cached

if TYPE_CHECKING:
    from accounts.models import User
    from django.db.models import QuerySet
    from teams.models import Membership, Workspace

LAST_USED_EVERY = timedelta(seconds=60)
MAX_SPEND_CAP_CREDITS = 10**12


class KeyAlreadyCreated(Exception):
    """The create form carrying this nonce already made a key (its secret is gone)."""


def key_create(
    *, workspace: Workspace, user: User, name: str, expires_at: datetime | None = None,
    spend_cap_credits: int | None = None, nonce: str | None = None,
) -> tuple[APIKey, str]:
    """Make a key; returns (key, secret). The secret exists only in this return value.

    `nonce` is the create form's one-time value: a second call with it raises
    KeyAlreadyCreated, also when both run at once (the unique constraint decides).
    """
    name = (name or "").strip()
    if not name:
        raise ValidationError("Give the key a name, e.g. “CI” or “Production”.")
    secret = secret_generate(KEY_PREFIX)
    try:
        with transaction.atomic():
            key = APIKey.objects.create(
                workspace=workspace,
                name=name[:80],
                prefix=secret_visible_prefix(secret, KEY_PREFIX),
                key_hash=secret_hash(secret),
                created_by=user,
                expires_at=expires_at,
                spend_cap_credits=spend_cap_credits,
                creation_nonce=nonce or None,
            )
    except IntegrityError:
        if nonce and APIKey.objects.filter(creation_nonce=nonce).exists():
            raise KeyAlreadyCreated(nonce) from None
        raise
    return key, secret


def key_revoke(*, key: APIKey, actor: User, membership: Membership | None = None) -> bool:
    """Revoke a key now. `membership` (the actor's) is checked against docs/design.md's table.

    Returns False when the key was already revoked. Every process refuses the key from
    the moment this returns (apikeys.keycache).
    """
    if membership is not None and not key_may_revoke(membership, key):
        raise PermissionDenied("Only owners and admins can revoke another member's key.")
    now = timezone.now()
    with transaction.atomic():
        revoked = APIKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_by=actor
        )
        revocation_publish()
    if revoked:
        key.revoked_at, key.revoked_by = now, actor
    return bool(revoked)


def keys_revoke_for_member(*, workspace: Workspace, user: User, actor: User | None = None) -> int:
    """Revoke every live key `user` made in `workspace` (they are leaving or removed)."""
    count = APIKey.objects.filter(
        workspace=workspace, created_by=user, revoked_at__isnull=True
    ).update(revoked_at=timezone.now(), revoked_by=actor)
    if count:
        revocation_publish()
    return count


def key_spend_cap_set(*, key: APIKey, credits: int | None, membership: Membership) -> APIKey:
    """Set (a whole number of credits) or clear (None) a key's cap; owners and admins only."""
    if membership is None or not membership.is_manager:
        raise PermissionDenied("Only owners and admins can change a key's spend cap.")
    if credits is not None and not (0 < credits <= MAX_SPEND_CAP_CREDITS):
        raise ValidationError("A spend cap is a whole number of credits above zero.")
    APIKey.objects.filter(pk=key.pk).update(spend_cap_credits=credits)
    key.spend_cap_credits = credits
    # Cached copies carry the cap; a lower cap must bite at once, like a revoke.
    revocation_publish()
    return key


def key_spend_add(key: APIKey, amount_micro: int, at: datetime | None = None) -> None:
    """Add a charge (micro-credits, positive) to the key's spend of the current cycle.

    Called by usage after each charge; atomic under concurrency (an UPDATE ... + n, or one
    INSERT that a unique constraint keeps single).
    """
    amount = abs(int(amount_micro))
    if amount == 0:
        return
    start = cycle_start_cached(key.workspace_id, at=at)
    spends_changed([key.workspace_id])  # a capped key's cached spend reloads after commit
    _spend_upsert(key.pk, start, amount)


def _spend_upsert(key_pk, start, amount):
    """Add to the key's spend row of the cycle, making the row on the cycle's first charge."""
    if _spend_row_add(key_pk, start, amount):
        return
    try:
        with transaction.atomic():
            KeySpend.objects.create(key_id=key_pk, cycle_start=start, spent_micro=amount)
    except IntegrityError:  # a concurrent first charge of the cycle made the row
        if not _spend_row_add(key_pk, start, amount):
            raise


def key_spends_add(*, amounts: Mapping[tuple[int, int], int], at: datetime | None = None) -> None:
    """key_spend_add for many keys at once (a batch of usage charged at `at`, default now).

    `amounts` maps (key pk, workspace id) to micro-credits; each adds to the cycle that
    contains `at`. PostgreSQL: one statement
    (key_spends_sql, also part of the usage write); elsewhere each key's row in key order,
    so two batches never deadlock on spend rows. One announcement for all workspaces.
    """
    amounts = {pair: abs(int(amount)) for pair, amount in amounts.items() if amount}
    if not amounts:
        return
    spends_changed([workspace_id for _key, workspace_id in amounts])
    rows = sorted(
        (key_pk, cycle_start_cached(workspace_id, at=at), amount)
        for (key_pk, workspace_id), amount in amounts.items()
    )
    if connection.vendor != "postgresql":
        for key_pk, start, amount in rows:
            _spend_upsert(key_pk, start, amount)
        return
    import psycopg

    sql = ("WITH input AS (SELECT * FROM unnest(%b::bigint[], %b::timestamptz[], %b::bigint[])"
           f" AS i(key_id, cycle, charge)), {key_spends_sql(source='input')} SELECT 1")
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, [list(column) for column in zip(*rows)], binary=True)


def key_spends_sql(*, source: str) -> str:
    """PostgreSQL: the CTE `spend` that adds every row of the relation `source` (columns
    key_id, cycle, charge) to its key's spend of that cycle, in key order, making the row on
    a cycle's first charge; for a statement that starts with WITH."""
    return """spend AS (
  INSERT INTO apikeys_keyspend (key_id, cycle_start, spent_micro)
  SELECT key_id, cycle, SUM(charge) FROM {source}
  GROUP BY key_id, cycle ORDER BY key_id, cycle
  ON CONFLICT (key_id, cycle_start)
  DO UPDATE SET spent_micro = apikeys_keyspend.spent_micro + EXCLUDED.spent_micro
)""".format(source=source)


def _spend_row_add(key_pk, start, amount):
    """The usual case in one plain UPDATE (the ORM's query building costs more than the
    round trip on the usage hot path). False when the cycle's row does not exist yet."""
    table = KeySpend._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET spent_micro = spent_micro + %s WHERE key_id = %s AND cycle_start = %s",
            [amount, key_pk, connection.ops.adapt_datetimefield_value(start)],
        )
        return cursor.rowcount == 1


def key_for_usage(key_id: object) -> APIKey | None:
    """The APIKey whose public id is `key_id`, revoked or expired included, else None.

    Usage of a key revoked after its authorize is still charged: the work was done.
    """
    if not isinstance(key_id, str) or not key_id.startswith("key_"):
        return None
    return APIKey.objects.select_related("workspace").filter(public_id=key_id).first()


def key_touch(record: APIKey, now: datetime) -> bool:
    """Write last_used_at at most about once a minute per key, whatever the traffic.

    The in-memory record keeps processes from even asking; the conditional UPDATE keeps
    several processes from writing in the same minute.
    """
    if record.last_used_at is not None and now - record.last_used_at < LAST_USED_EVERY:
        return False
    record.last_used_at = now
    return bool(
        APIKey.objects.filter(pk=record.pk)
        .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_EVERY))
        .update(last_used_at=now)
    )


def service_token_create(*, name: str) -> tuple[ServiceToken, str]:
    """Make a gateway service token; returns (token, secret). Print the secret once."""
    name = (name or "").strip()
    if not name:
        raise ValidationError("A service token needs a name.")
    secret = secret_generate(SERVICE_TOKEN_PREFIX)
    token = ServiceToken.objects.create(
        name=name[:80],
        prefix=secret_visible_prefix(secret, SERVICE_TOKEN_PREFIX),
        token_hash=secret_hash(secret),
    )
    return token, secret


def service_tokens_revoke(queryset: QuerySet[ServiceToken]) -> int:
    count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
    if count:
        revocation_publish()
    return count
