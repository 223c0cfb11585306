"""The one seam for "a workspace's credits changed": what follows a committed ledger write.

Every write of the ledger (usage charges, one or a batch, grants, purchases, refunds,
expiries, settlements, staff adjustments) ends by calling `credits_changed_on_commit`
(billing.ledger does it for its writers; the usage statement on PostgreSQL, which charges
through billing.ledger's SQL, calls it with the balances that statement returned). Inside a
transaction the listeners run once it commits (`transaction.on_commit`), never for a write
that rolls back; outside one, at once.

Listener contract (authorize's spend cache, auto-recharge, alerts):
- called as `listener(balances=...)`, `balances` mapping workspace id to the balance in
  micro-credits after the write (a batch: every workspace it charged, once);
- the balance is the one the write saw inside its own transaction: a concurrent write may
  have moved it since. A listener that acts on money (an auto-recharge) re-reads under its
  own lock before it does anything; the balance here only decides whether to look at all;
- it runs on the usage hot path (one call per gateway usage request), in the writer's
  thread: deciding must cost no database query in the usual case. Keep what you compare
  against (e.g. a per-workspace recharge threshold) in a `config.ttlcache.TtlCache`
  (cleared by the write that changes it), and hand anything slow (Stripe) to a Celery task;
- it must not raise: the money has already moved, so an error is logged and the other
  listeners still run.

Apps to the right of billing (apikeys) register with `credits_listener_add` from their
AppConfig.ready(); billing's own follow-ups may equally be called from `credits_changed_many`.
"""

import logging
from collections.abc import Callable, Mapping
from functools import partial

from django.db import transaction

Listener = Callable[..., None]

_listeners: list[Listener] = []
log = logging.getLogger("meterdesk.billing")


def credits_listener_add(listener: Listener) -> None:
    """Call `listener(balances=...)` after every committed ledger write (idempotent)."""
    if listener not in _listeners:
        _listeners.append(listener)


def credits_listener_remove(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def credits_changed(*, workspace_id: int, balance_micro: int) -> None:
    """A ledger write of `workspace_id` committed, leaving `balance_micro`: run the listeners."""
    credits_changed_many(balances={workspace_id: balance_micro})


def credits_changed_many(*, balances: Mapping[int, int]) -> None:
    """`credits_changed` for every workspace one committed write changed, in one call (so a
    listener that talks to Redis does it in one round trip for a whole batch)."""
    if not balances:
        return
    for listener in tuple(_listeners):
        try:
            listener(balances=balances)
        except Exception:  # the credits moved already; one listener must not hide that
            log.exception("A credits_changed listener failed (%r)", listener)


def credits_changed_on_commit(*, balances: Mapping[int, int]) -> None:
    """Run the listeners once the current transaction commits (at once in autocommit)."""
    if balances:
        transaction.on_commit(partial(credits_changed_many, balances=dict(balances)))
