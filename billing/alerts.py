"""Alerts: low balance, balance at zero, overage at 80% and 100% of the limit (checked after
every ledger write), and the way any alert is raised and mailed (usage's spike detection
raises through `alert_raise` too).

After every committed ledger write, `billing.receivers.alerts_listener` (a billing.credits
listener, on the usage hot path) compares each balance with a per-process copy of the
workspace's watch (`Watch`, cached ALERT_WATCH_TTL seconds, taken from a copy shared by all
processes in the cache for ALERT_WATCH_SHARED_TTL) and, only when something may have to change,
enqueues `billing.tasks.alerts_check`. The check decides under the workspace's
AlertSettings row lock, reading the balance again: many charges crossing at once all wait
for the same lock and the first one raises the alert; the (workspace, kind, period) unique
constraint of Alert is the second guard. An alert's e-mails go out after its transaction
commits, one AlertSend row per person.

A process's watch may be ALERT_WATCH_TTL seconds old after a check or a threshold change
(which drop the shared copy), ALERT_WATCH_TTL + ALERT_WATCH_SHARED_TTL after a change that
does not (a plan, auto-recharge, a new cycle). Raising is never missed for it (a stale
watch at worst asks for a check that finds nothing to do); a re-arm is missed only when
the balance rises above the threshold and falls below it again within those seconds, seen
only by processes that loaded their watch before the alert.

Rules:
- low balance: below the workspace's threshold (set on the Billing page; default 10% of the
  last cycle's usage, 100 credits on a first cycle or after a cycle without usage), once
  per crossing; not while auto-recharge is on and healthy (the recharge is the answer);
- balance at zero: a prepaid balance at or below zero, once per crossing, with a link to
  buy credits;
- a balance back above the threshold (and above zero) re-arms both: the next crossing is a
  new `generation`;
- overage: 80% and 100% of the overage limit, once each per cycle.
A person who turned a kind off (AlertOptOut) is left out of its e-mails.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from billing.cycles import cycle_current
from billing.ledger import workspace_balance
from billing.models import AutoRecharge, BillingAccount, BillingCycle
from billing.models_alerts import Alert, AlertKind, AlertOptOut, AlertSend, AlertSettings
from billing.money import MICRO
from billing.recharge import recharges_this_month
from billing.selectors import cycle_usage_micro
from billing.services import BillingError, _require_manager
from config.ttlcache import TtlCache
from teams.models import Membership, Role, Workspace

log = logging.getLogger("meterdesk.alerts")

FIRST_CYCLE_THRESHOLD_CREDITS = 100
DEFAULT_THRESHOLD_PERCENT = 10
MAX_THRESHOLD_CREDITS = 100_000_000
OVERAGE_STEPS = ((80, AlertKind.OVERAGE_80), (100, AlertKind.OVERAGE_100))
ALERT_WATCH_TTL = 30  # seconds a process trusts its copy of a workspace's watch
ALERT_WATCH_SHARED_TTL = 60  # seconds the copy shared by every process (the cache) lasts
CHECK_QUEUED_FOR = 5  # seconds one enqueued check stands for the same workspace's later writes
LAST_CYCLE_USAGE_TTL = 24 * 3600  # a closed cycle's usage does not change


# --- thresholds ----------------------------------------------------------------------------


def _last_cycle_usage_micro(workspace_id, current_start):
    """Usage of the cycle before the current one, None on a first cycle (remembered a day in
    the shared cache: summing a big cycle's ledger rows is not for every check)."""
    previous = (
        BillingCycle.objects.filter(workspace_id=workspace_id, start__lt=current_start)
        .order_by("-start").values_list("start", "end").first()
    )
    if previous is None:
        return None
    start, end = previous
    key = f"alerts:last-cycle-usage:{workspace_id}:{start.isoformat()}"
    return cache.get_or_set(key, lambda: cycle_usage_micro(workspace_id, start=start, end=end), LAST_CYCLE_USAGE_TTL)


def default_threshold_micro(workspace_id: int, *, at: datetime | None = None, current_start=None) -> int:
    """10% of the last cycle's usage; 100 credits on a first cycle (or after one without usage).
    `current_start`: the current cycle's start, when the caller has it."""
    if current_start is None:
        current_start = cycle_current(workspace_id, at=at).start
    used = _last_cycle_usage_micro(workspace_id, current_start)
    if not used:
        return FIRST_CYCLE_THRESHOLD_CREDITS * MICRO
    return used * DEFAULT_THRESHOLD_PERCENT // 100


_NOT_READ = object()


def low_threshold_micro(workspace_id: int, *, settings=_NOT_READ, current_start=None) -> int:
    """The workspace's low-balance threshold in micro-credits: its own, else the default.
    `settings`: its AlertSettings (or None: it has none), when the caller has read them."""
    if settings is _NOT_READ:
        settings = AlertSettings.objects.filter(workspace_id=workspace_id).first()
    if settings is not None and settings.low_balance_credits is not None:
        return settings.low_balance_credits * MICRO
    return default_threshold_micro(workspace_id, current_start=current_start)


def low_balance_threshold_set(*, workspace: Workspace, actor, credits: int | None) -> AlertSettings:
    """Owners and admins set the threshold in whole credits (None: back to the default)."""
    _require_manager(workspace, actor)
    if credits is not None and not 0 <= credits <= MAX_THRESHOLD_CREDITS:
        raise BillingError(f"The threshold must be between 0 and {MAX_THRESHOLD_CREDITS:,} credits.")
    with transaction.atomic():
        settings = _settings_locked(workspace.pk)
        settings.low_balance_credits = credits
        settings.save(update_fields=["low_balance_credits", "updated_at"])
    # The new threshold may already be crossed (or no longer be): look again now.
    transaction.on_commit(partial(alerts_check, workspace.pk))
    watch_forget(workspace.pk)
    return settings


def auto_recharge_healthy(workspace_id: int) -> bool:
    """On, and still allowed a recharge this month: a low balance is then the recharge's job.
    (A failed recharge turns it off, billing.recharge_state.)"""
    recharge = AutoRecharge.objects.filter(workspace_id=workspace_id, enabled=True).first()
    return recharge is not None and recharges_this_month(workspace_id) < recharge.monthly_cap


# --- the watch: what the hot path compares a balance with ------------------------------------


@dataclass(frozen=True)
class Watch:
    threshold_micro: int
    low_muted: bool  # auto-recharge is on and healthy
    low_raised: bool  # this generation's low-balance alert exists
    prepaid: bool
    zero_raised: bool
    overage_limit_micro: int | None  # None: the workspace may not overspend
    overage_raised: frozenset  # the overage kinds raised this cycle

    def needs_check(self, balance_micro: int) -> bool:
        """Whether this balance may raise an alert or re-arm one (the check decides)."""
        if balance_micro < self.threshold_micro and not self.low_raised and not self.low_muted:
            return True
        if self.prepaid and balance_micro <= 0 and not self.zero_raised:
            return True
        if (self.low_raised or self.zero_raised) and _rearms(balance_micro, self.threshold_micro):
            return True
        for kind in _overage_kinds_reached(balance_micro, self.overage_limit_micro):
            if kind not in self.overage_raised:
                return True
        return False


def _rearms(balance_micro, threshold_micro):
    return balance_micro > 0 and balance_micro >= threshold_micro


def _overage_kinds_reached(balance_micro, limit_micro):
    """The overage alerts a balance has reached: 80% and 100% of the limit, in that order."""
    if limit_micro is None or balance_micro >= 0:
        return []
    overage = -balance_micro
    return [kind for percent, kind in OVERAGE_STEPS if overage * 100 >= limit_micro * percent]


def _watch_load(workspace_id):
    settings = AlertSettings.objects.filter(workspace_id=workspace_id).first()
    generation = str(settings.generation if settings else 0)
    account = BillingAccount.objects.select_related("plan").get(workspace_id=workspace_id)
    cycle = cycle_current(workspace_id, account=account)
    raised = set(
        Alert.objects.filter(workspace_id=workspace_id).filter(
            Q(kind__in=[AlertKind.LOW_BALANCE, AlertKind.ZERO_BALANCE], period=generation)
            | Q(kind__in=[kind for _, kind in OVERAGE_STEPS], period=_cycle_period(cycle.start))
        ).values_list("kind", flat=True)
    )
    limit = account.effective_overage_limit
    return Watch(
        threshold_micro=low_threshold_micro(workspace_id, settings=settings, current_start=cycle.start),
        low_muted=auto_recharge_healthy(workspace_id),
        low_raised=AlertKind.LOW_BALANCE in raised,
        prepaid=not account.may_overspend,
        zero_raised=AlertKind.ZERO_BALANCE in raised,
        overage_limit_micro=None if limit is None else limit * MICRO,
        overage_raised=frozenset(raised - {AlertKind.LOW_BALANCE, AlertKind.ZERO_BALANCE}),
    )


_watches: TtlCache[Watch] = TtlCache(ttl_seconds=ALERT_WATCH_TTL)


def _shared_watch_key(workspace_id):
    return f"alerts:watch:{workspace_id}"


def watch_of(workspace_id: int) -> Watch:
    """The workspace's watch: this process's copy, else the shared one (the cache), else
    read from the database (6 queries, ~5 ms) and shared. Each process read its own from
    the database before, every 30 s for every active workspace: a 10 ms stall per
    workspace and process that doubled the usage call's p99 (docs/performance.md)."""
    return _watches.get(workspace_id, load=lambda: _watch_shared(workspace_id))


def _watch_shared(workspace_id):
    key = _shared_watch_key(workspace_id)
    watch = cache.get(key)
    if watch is None:
        watch = _watch_load(workspace_id)
        cache.set(key, watch, ALERT_WATCH_SHARED_TTL)
    return watch


def watch_forget(workspace_id: int) -> None:
    """After a change this process made: the next charge anywhere reads it again (other
    processes' own copies last up to ALERT_WATCH_TTL more)."""
    cache.delete(_shared_watch_key(workspace_id))
    _watches.forget(workspace_id)


def _check_queued_key(workspace_id):
    return f"alerts:check-queued:{workspace_id}"


def workspaces_to_check(balances) -> list[int]:
    """For billing.credits' listener (billing.receivers.alerts_listener): the workspaces whose
    new balance may raise or re-arm an alert, each at most once per CHECK_QUEUED_FOR seconds
    (an atomic cache add; a later write that still needs a check asks again). No query while
    the watch is cached."""
    return [
        workspace_id for workspace_id, balance_micro in balances.items()
        if watch_of(workspace_id).needs_check(balance_micro)
        and cache.add(_check_queued_key(workspace_id), 1, CHECK_QUEUED_FOR)
    ]


# --- the check (a Celery task) -----------------------------------------------------------


def _settings_locked(workspace_id):
    AlertSettings.objects.get_or_create(workspace_id=workspace_id)
    return AlertSettings.objects.select_for_update().get(workspace_id=workspace_id)


def _cycle_period(start):
    return start.date().isoformat()


def alerts_check(workspace_id: int, *, now: datetime | None = None) -> list[Alert]:
    """Raise the balance alerts that are due now and re-arm those the balance rose above;
    returns the alerts raised. Under the settings row's lock, so concurrent checks of one
    workspace run one after the other and each sees the last one's alerts."""
    now = now or timezone.now()
    raised = []
    # Cleared before the balance is read, never after: a write whose listener found this
    # check queued committed before this read (so it is seen here); a later one queues
    # its own check. Clearing at the end lost the last charge to zero under 50 threads.
    cache.delete(_check_queued_key(workspace_id))
    with transaction.atomic():
        settings = _settings_locked(workspace_id)
        balance = workspace_balance(workspace_id)  # read under the lock: the balance now
        account = BillingAccount.objects.select_related("plan", "workspace").get(workspace_id=workspace_id)
        workspace = account.workspace
        threshold = low_threshold_micro(workspace_id, settings=settings)
        generation = str(settings.generation)
        if _rearms(balance, threshold):
            if Alert.objects.filter(workspace_id=workspace_id, period=generation,
                                    kind__in=[AlertKind.LOW_BALANCE, AlertKind.ZERO_BALANCE]).exists():
                settings.generation += 1
                settings.save(update_fields=["generation", "updated_at"])
        elif balance < threshold and not auto_recharge_healthy(workspace_id):
            raised.append(alert_raise(
                workspace=workspace, kind=AlertKind.LOW_BALANCE, period=generation, now=now,
                subject=f"The balance of {workspace.name} is low",
                template="alert_low_balance",
                context={"balance_micro": balance, "threshold_micro": threshold},
            ))
        if not account.may_overspend and balance <= 0:
            raised.append(alert_raise(
                workspace=workspace, kind=AlertKind.ZERO_BALANCE, period=generation, now=now,
                subject=f"{workspace.name} is out of credits",
                template="alert_zero_balance", context={"balance_micro": balance},
            ))
        limit = account.effective_overage_limit
        if limit is not None:
            cycle = cycle_current(workspace_id, at=now, account=account)
            for kind in _overage_kinds_reached(balance, limit * MICRO):
                raised.append(alert_raise(
                    workspace=workspace, kind=kind, period=_cycle_period(cycle.start), now=now,
                    subject=(f"{workspace.name} reached its overage limit" if kind == AlertKind.OVERAGE_100
                             else f"{workspace.name} used 80% of its overage limit"),
                    template="alert_overage",
                    context={"overage_micro": -balance, "limit_micro": limit * MICRO, "cycle": cycle,
                             "reached": kind == AlertKind.OVERAGE_100},
                ))
    watch_forget(workspace_id)
    return [alert for alert in raised if alert is not None]


# --- raising and mailing any alert ---------------------------------------------------------


def alert_recipients(workspace: Workspace, kind: str) -> list[tuple[int, str]]:
    """(user id, e-mail) of the owners and admins who have not turned `kind` off."""
    muted = AlertOptOut.objects.filter(kind=kind).values("user_id")
    return list(
        Membership.objects.filter(workspace=workspace, role__in=[Role.OWNER, Role.ADMIN])
        .exclude(user_id__in=muted).exclude(user__email="")
        .order_by("joined_at", "pk").values_list("user_id", "user__email")
    )


def alert_raise(
    *, workspace: Workspace, kind: str, period: str, subject: str, template: str, context: dict,
    now: datetime | None = None,
) -> Alert | None:
    """Record the alert (workspace, kind, period) and e-mail it once this transaction
    commits; None when it was raised before (nothing is sent again)."""
    now = now or timezone.now()
    if Alert.objects.filter(workspace=workspace, kind=kind, period=period).exists():
        return None
    context = {"workspace": workspace, "site_url": django_settings.SITE_URL, **context}
    message = render_to_string(f"billing/email/{template}.txt", context)
    try:
        with transaction.atomic():
            alert = Alert.objects.create(workspace=workspace, kind=kind, period=period,
                                         subject=subject, message=message, created_at=now)
    except IntegrityError:
        return None  # a concurrent check raised it first
    sends = AlertSend.objects.bulk_create([
        AlertSend(alert=alert, user_id=user_id, email=email, created_at=now)
        for user_id, email in alert_recipients(workspace, kind)
    ])
    transaction.on_commit(partial(_alert_mail, alert.pk, [send.pk for send in sends]))
    return alert


def _alert_mail(alert_id, send_ids):
    """One e-mail per person (their addresses stay private from each other); a refusal of
    the mail server is written on the send, for staff, and never undoes the alert."""
    alert = Alert.objects.get(pk=alert_id)
    for send in AlertSend.objects.filter(pk__in=send_ids):
        try:
            EmailMessage(subject=f"[Meterdesk] {alert.subject}", body=alert.message, to=[send.email]).send()
        except Exception as error:  # noqa: BLE001 - the alert stands; staff see why in the admin
            log.exception("could not send alert %s to %s", alert_id, send.email)
            AlertSend.objects.filter(pk=send.pk).update(error=str(error)[:300] or type(error).__name__)


# --- reads for pages ------------------------------------------------------------------------


def alert_opt_outs(user) -> set[str]:
    return set(AlertOptOut.objects.filter(user=user).values_list("kind", flat=True))


def alert_opt_outs_set(*, user, muted_kinds) -> set[str]:
    """The person's own choice: `muted_kinds` off, every other kind on."""
    muted = set(muted_kinds) & set(AlertKind.values)
    with transaction.atomic():
        AlertOptOut.objects.filter(user=user).exclude(kind__in=muted).delete()
        for kind in muted:
            AlertOptOut.objects.get_or_create(user=user, kind=kind)
    return muted


def alerts_recent(workspace: Workspace, *, since: datetime) -> list[Alert]:
    return list(Alert.objects.filter(workspace=workspace, created_at__gte=since))
