"""Reads about keys: lookups by hash, spend this cycle, the keys page."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import OuterRef, Subquery

from accounts.models import User
from apikeys.models import APIKey, KeySpend
from billing.cycles import cycle_start
from billing.money import MICRO
from teams.models import Membership, Workspace


@dataclass
class KeyRecord:
    """What authorize needs to know about a key; small enough to cache per process."""

    pk: int
    public_id: str
    workspace_id: int
    workspace_slug: str
    expires_at: datetime | None
    revoked: bool
    spend_cap_micro: int | None
    last_used_at: datetime | None

    def refusal(self, at):
        """None when the key may be used at `at`, else why not (for logs; the API says 401)."""
        if self.revoked:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= at:
            return "expired"
        return None


def key_record_by_hash(digest: str) -> KeyRecord | None:
    row = (
        APIKey.objects.filter(key_hash=digest)
        .values_list(
            "pk", "public_id", "workspace_id", "workspace__slug", "expires_at", "revoked_at",
            "spend_cap_credits", "last_used_at",
        )
        .first()
    )
    if row is None:
        return None
    pk, public_id, workspace_id, slug, expires_at, revoked_at, cap, last_used = row
    return KeyRecord(
        pk, public_id, workspace_id, slug, expires_at, revoked_at is not None,
        None if cap is None else cap * MICRO, last_used,
    )


def key_cycle_spend_micro(key_pk: int, *, workspace_id: int, at: datetime | None = None) -> int:
    """Micro-credits a key has spent in its workspace's current billing cycle."""
    spent = (
        KeySpend.objects.filter(key_id=key_pk, cycle_start=cycle_start(workspace_id, at=at))
        .values_list("spent_micro", flat=True)
        .first()
    )
    return spent or 0


def keys_for_page(workspace: Workspace, *, cycle_start_at: datetime | None = None) -> list[APIKey]:
    """The workspace's keys, newest first, each with `cycle_spend_micro` for the cycle that
    starts at `cycle_start_at` (default: the current one; the page passes the bounds of
    billing.selectors.cycle_usage, as every "this cycle" figure does)."""
    start = cycle_start_at or cycle_start(workspace.pk)
    spent = KeySpend.objects.filter(key=OuterRef("pk"), cycle_start=start).values("spent_micro")
    return list(
        workspace.api_keys.select_related("created_by", "revoked_by")
        .annotate(cycle_spend_micro=Subquery(spent[:1]))
        .order_by("revoked_at", "-created_at", "-id")
    )


def key_may_revoke(membership: Membership | None, key: APIKey) -> bool:
    """docs/design.md: anyone revokes their own key; owners and admins revoke anyone's."""
    return membership is not None and (
        membership.is_manager or key.created_by_id == membership.user_id
    )


def member_key_consequences(workspace: Workspace, user: User) -> list[str]:
    """Sentences for the Team page's removal confirmation: the keys that will be revoked."""
    keys = APIKey.objects.active().filter(workspace=workspace, created_by=user).order_by("name")
    return [f"API key “{key.name}” ({key.prefix}…) will be revoked" for key in keys]
