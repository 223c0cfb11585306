"""Billing writes: accounts, the sign-up bonus, plan changes, billing mode, overage limit.

Money moves only through billing.ledger; cycles close in billing.closing. A refusal is a
BillingError whose message is a sentence to show the user.
"""

from dataclasses import dataclass
from datetime import datetime

from allauth.account.models import EmailAddress
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from billing.closing import cycle_close_locked, cycles_close_due
from billing.cycles import cycle_bounds, cycle_open
from billing.ledger import Posting, ledger_post, shards_create
from billing.models import (
    BillingAccount, BillingCycle, BillingMode, EntryKind, LedgerEntry, PAYG_DEFAULT_OVERAGE_LIMIT, Plan,
)
from billing.money import MICRO
from billing.selectors import workspace_has_saved_card
from config.flash import Refusal
from teams.models import Invitation, Membership, Role, Workspace

DEFAULT_PLAN = "starter"
# The most overage an owner may allow on a plan without a default limit (USD 1,000).
OWNER_MAX_OVERAGE_LIMIT = 100_000


class BillingError(Refusal):
    """A billing change that is not allowed; str(error) is a sentence for the user."""


def signup_bonus_reference(user_id: int) -> str:
    return f"signup-bonus:user:{user_id}"


@transaction.atomic
def billing_account_open(
    *, workspace: Workspace, plan_code: str = DEFAULT_PLAN, now: datetime | None = None,
) -> BillingAccount:
    """Give a new workspace its billing account, balance shards and first cycle."""
    now = now or timezone.now()
    plan = Plan.objects.get(code=plan_code)
    account, created = BillingAccount.objects.get_or_create(
        workspace=workspace,
        defaults={"plan": plan, "cycle_anchor_day": now.day, "overage_limit": plan.default_overage_limit},
    )
    shards_create(workspace)
    start, end = cycle_bounds(account.cycle_anchor_day, now)
    if not BillingCycle.objects.filter(workspace=workspace, start__lte=now, end__gt=now).exists():
        cycle_open(account=account, start=start, end=end)
    return account


def signup_bonus_grant(user: User) -> Posting | None:
    """The one-time sign-up credits: once per verified user, on their first own workspace.

    "Own" is a workspace the user owns and did not join through an invitation (an
    invitation may make someone an owner of a colleague's workspace, which must not
    collect their bonus); "first" is the oldest of those. Making more workspaces (or
    verifying a second address) never earns more: the ledger reference is per user and
    unique. Returns the Posting, or None when nothing is due (yet).
    """
    if not EmailAddress.objects.filter(user=user, verified=True).exists():
        return None
    joined = Invitation.objects.filter(accepted_by=user).values("workspace_id")
    first = (
        Membership.objects.filter(user=user, role=Role.OWNER)
        .exclude(workspace_id__in=joined)
        .order_by("workspace__created_at", "workspace_id")
        .values_list("workspace_id", flat=True)
        .first()
    )
    if first is None:
        return None
    account = BillingAccount.objects.select_related("plan").filter(workspace_id=first).first()
    if account is None or not account.plan.one_time_credits:
        return None
    return ledger_post(
        workspace=first, kind=EntryKind.SIGNUP_BONUS,
        amount_micro=account.plan.one_time_credits * MICRO,
        reference=signup_bonus_reference(user.pk), memo="Sign-up bonus",
    )


def signup_bonus_on_workspace_created(owner: User | None) -> Posting | None:
    """Someone who signed up through an invitation proved their address with its link (no
    confirmation e-mail, so no bonus then) and had no workspace of their own: the bonus
    waits for the first workspace they create. Everyone else got theirs on confirming."""
    if owner is None or not Invitation.objects.filter(accepted_by=owner).exists():
        return None
    if LedgerEntry.objects.filter(reference=signup_bonus_reference(owner.pk)).exists():
        return None
    return signup_bonus_grant(owner)


# --- who may change billing ----------------------------------------------------------------


def _require_manager(workspace, actor):
    """Owners and admins change billing (docs/design.md "Who may do what"); staff always may.
    actor=None is the system itself (jobs, commands)."""
    if actor is None or actor.is_staff:
        return
    ok = Membership.objects.filter(
        user=actor, workspace=workspace, role__in=[Role.OWNER, Role.ADMIN]
    ).exists()
    if not ok:
        raise BillingError("Only owners and admins can change billing.")


def _locked_account(workspace):
    return BillingAccount.objects.select_for_update(of=("self",)).select_related("plan", "scheduled_plan").get(
        workspace_id=workspace.pk
    )


# --- plan changes --------------------------------------------------------------------------


def plan_rank(plan: Plan) -> tuple[bool, int, int]:
    """Order of plans for "upgrade or downgrade": custom (enterprise) above any price."""
    return (plan.price_is_custom, plan.price_cents, plan.included_credits)


@dataclass(frozen=True)
class PlanChange:
    kind: str  # "upgraded" (at once) or "scheduled" (at the cycle's end)
    plan: Plan
    effective_at: datetime


def plan_change(
    *, workspace: Workspace, plan: Plan, actor: User | None = None, by_staff: bool = False,
    billed_by_stripe: bool | None = None, now: datetime | None = None,
) -> PlanChange:
    """Upgrade at once (the cycle closes early as a normal close; a new one starts with the
    new plan's full fee and included credits), or schedule a downgrade for the cycle's end.

    Customers pick paid plans through a Stripe subscription (billing.subscriptions calls this
    with billed_by_stripe=True once Stripe has it), never enterprise (staff set it); staff
    (`by_staff=True`, the admin) may set any plan. billed_by_stripe=None keeps the account's.
    """
    now = now or timezone.now()
    _require_manager(workspace, actor)
    # A cycle that already ended is closed first, so the upgrade closes the right one.
    cycles_close_due(at=now, workspace_id=workspace.pk)
    with transaction.atomic():
        account = _locked_account(workspace)
        current = account.plan
        if plan.pk == current.pk:
            raise BillingError(f"{workspace.name} is already on {plan.name}.")
        upgrade = plan_rank(plan) > plan_rank(current)
        if not by_staff:
            if plan.price_is_custom:
                raise BillingError(f"{plan.name} terms are set up with our sales team; contact us to move to {plan.name}.")
            if not plan.is_public:
                raise BillingError(f"{plan.name} is not offered; pick a plan listed on the Billing page.")
            if upgrade and plan.price_cents and billed_by_stripe is None:
                raise BillingError(f"{plan.name} starts through checkout; use Upgrade on the Billing page.")
        if not upgrade:
            account.scheduled_plan = plan
            account.save(update_fields=["scheduled_plan", "updated_at"])
            cycle = _open_cycle_row(account, now)
            return PlanChange("scheduled", plan, cycle.end if cycle else now)

        plan_switch_now(account=account, plan=plan, now=now, billed_by_stripe=billed_by_stripe)
        return PlanChange("upgraded", plan, now)


def plan_switch_now(
    *, account: BillingAccount, plan: Plan, now: datetime, billed_by_stripe: bool | None = None,
) -> BillingCycle:
    """Close the open cycle at `now` (a normal close) and start a new one on `plan`. The
    caller holds the account's lock. Upgrades and the end of a subscription use it."""
    cycle = _open_cycle_row(account, now)
    if cycle is not None:
        cycle_close_locked(account=account, cycle=cycle, boundary=now, now=now)
    account.plan = plan
    account.scheduled_plan = None
    account.cycle_anchor_day = now.day
    if billed_by_stripe is not None:
        account.fee_billed_by_stripe = billed_by_stripe
        account.payment_past_due = False
    if account.billing_mode != BillingMode.PAY_AS_YOU_GO or plan.overage_allowed:
        account.overage_limit = plan.default_overage_limit
    account.save()
    return cycle_open(account=account, start=now, end=cycle_bounds(now.day, now)[1])


def _open_cycle_row(account, now):
    return (
        BillingCycle.objects.select_for_update()
        .filter(workspace_id=account.workspace_id, closed_at__isnull=True, start__lte=now, end__gt=now)
        .first()
    )


@transaction.atomic
def downgrade_cancel(*, workspace: Workspace, actor: User | None = None) -> Plan:
    _require_manager(workspace, actor)
    account = _locked_account(workspace)
    if account.scheduled_plan_id is None:
        raise BillingError("There is no scheduled plan change to cancel.")
    scheduled = account.scheduled_plan
    account.scheduled_plan = None
    account.save(update_fields=["scheduled_plan", "updated_at"])
    return scheduled


# --- billing mode and overage limit --------------------------------------------------------


@transaction.atomic
def billing_mode_set(*, workspace: Workspace, mode: str, actor: User | None = None) -> BillingAccount:
    _require_manager(workspace, actor)
    if mode not in BillingMode.values:
        raise BillingError("Choose prepaid or pay-as-you-go.")
    account = _locked_account(workspace)
    if account.billing_mode == mode:
        return account
    if mode == BillingMode.PAY_AS_YOU_GO:
        if account.plan.overage_allowed:
            raise BillingError(f"{account.plan.name} already bills usage past your credits as overage.")
        if not workspace_has_saved_card(workspace):
            raise BillingError(
                "Save a card first: pay-as-you-go bills usage past zero to a saved card at the "
                "end of each cycle."
            )
        if account.overage_limit is None:
            account.overage_limit = PAYG_DEFAULT_OVERAGE_LIMIT
    account.billing_mode = mode
    account.save(update_fields=["billing_mode", "overage_limit", "updated_at"])
    return account


def overage_limit_max(account: BillingAccount) -> int:
    return max(account.plan.default_overage_limit or 0, OWNER_MAX_OVERAGE_LIMIT)


@transaction.atomic
def overage_limit_set(
    *, workspace: Workspace, credits: int | str, actor: User | None = None,
) -> BillingAccount:
    """The credits of overage allowed per cycle; reaching it refuses requests with 402."""
    _require_manager(workspace, actor)
    account = _locked_account(workspace)
    if not account.may_overspend:
        raise BillingError("This workspace is prepaid: there is no overage to limit.")
    if account.plan.price_is_custom and not (actor is not None and actor.is_staff):
        raise BillingError("Your overage limit is part of your enterprise terms; ask your account manager to change it.")
    credits = int(credits)
    if credits < 0:
        raise BillingError("The overage limit cannot be negative.")
    ceiling = overage_limit_max(account)
    if credits > ceiling and not (actor is not None and actor.is_staff):
        raise BillingError(f"The overage limit can be at most {ceiling:,} credits; contact us for more.")
    account.overage_limit = credits
    account.save(update_fields=["overage_limit", "updated_at"])
    return account


def _usd(cents):
    return f"USD {cents // 100:,}" + (f".{cents % 100:02d}" if cents % 100 else "")
