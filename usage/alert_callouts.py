"""The dashboard's alerts: what needs attention now, by the same rules as the e-mails
(billing.alerts: the workspace's low-balance threshold, the overage limit) plus the usage
spikes raised in the last two days."""

from datetime import datetime, timedelta
from typing import NamedTuple

from billing.alerts import alerts_recent, low_threshold_micro
from billing.models import AlertKind
from billing.money import MICRO
from billing.selectors import BalanceSummary
from teams.models import Workspace

SPIKES_SHOWN_FOR = timedelta(days=2)
OVERAGE_WARNING_PERCENT = 80


class Callout(NamedTuple):
    level: str  # "danger" or "warning"
    text: str
    action: str
    href: str


def _credits(micro):
    return f"{micro // MICRO:,}"


def dashboard_alerts(workspace: Workspace, *, refusal: str | None, summary: BalanceSummary,
                     now: datetime) -> list[Callout]:
    balance = summary.balance_micro
    callouts = []
    if refusal == "out_of_credits":
        callouts.append(Callout("danger", "Out of credits: API requests are refused (402) until you add credits.",
                                "Buy credits", "/settings/billing/#buy-credits"))
    elif refusal == "spend_limit_reached":
        callouts.append(Callout("danger", "Your overage limit is reached: API requests are refused (402) until you "
                                "raise it or the cycle ends.", "Review limits", "/settings/billing/"))
    else:
        threshold = low_threshold_micro(workspace.pk)
        limit = summary.overage_limit
        if balance < threshold and balance >= 0:
            callouts.append(Callout(
                "warning", f"Your balance is low: below your alert threshold of {_credits(threshold)} credits. "
                "Add credits or turn on auto-recharge so requests keep working.", "Buy credits",
                "/settings/billing/#buy-credits"))
        if limit and summary.overage_micro * 100 >= limit * MICRO * OVERAGE_WARNING_PERCENT:
            used = summary.overage_micro * 100 // (limit * MICRO)
            callouts.append(Callout(
                "warning", f"You have used {used}% of your overage limit ({_credits(limit * MICRO)} credits) this "
                "cycle; at the limit requests are refused (402).", "Review limits", "/settings/billing/"))
    for alert in alerts_recent(workspace, since=now - SPIKES_SHOWN_FOR):
        if alert.kind == AlertKind.USAGE_SPIKE:
            callouts.append(Callout("warning", alert.subject + ".", "See usage", "/usage/?range=7&split=key"))
    return callouts
