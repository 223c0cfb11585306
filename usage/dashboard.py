"""What the dashboard at / shows for a workspace: balance, cycle usage, chart, requests, alerts."""

from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing.money import MICRO, credits_to_micro
from billing.selectors import spend_state
from teams.models import Workspace
from usage.charts import credits_chart
from usage.models import UsageEvent
from usage.reports import credits_between, daily_series, recent_events
from usage.tasks import rollup_if_stale

CHART_DAYS = 30
# "Low" is below a tenth of the cycle's included credits, or below 100 credits without any.
LOW_FLOOR_CREDITS = 100


def _balance(workspace):
    from billing.selectors import balance_payload  # billing's contract (docs/architecture.md)

    return balance_payload(workspace)


def _micro(text):
    return credits_to_micro(Decimal(text)) if text not in (None, "") else None


def dashboard_context(workspace: Workspace, *, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    rollup_if_stale()
    payload = _balance(workspace)
    state = spend_state(workspace.id)
    balance = _micro(payload.get("balance")) or 0
    included_remaining = _micro(payload.get("included_remaining")) or 0
    cycle_start = parse_datetime(payload["cycle_start"]) if payload.get("cycle_start") else None
    cycle_end = parse_datetime(payload["cycle_end"]) if payload.get("cycle_end") else None
    included_credits = workspace.billing.included_credits

    today = now.date()
    used_cycle = credits_between(workspace, start=cycle_start.date(), end=today) if cycle_start else 0
    included_micro = included_credits * MICRO
    used_percent = min(100, round(used_cycle * 100 / included_micro)) if included_micro else None

    start = today - timedelta(days=CHART_DAYS - 1)
    series, days = daily_series(workspace, start=start, end=today)
    chart_total = sum(sum(values) for values in series.values())

    low_at = max(included_micro // 10, LOW_FLOOR_CREDITS * MICRO)
    alerts = []
    if state.refusal == "out_of_credits":
        alerts.append(("danger", "Out of credits: API requests are refused (402) until you add credits.", "Buy credits"))
    elif state.refusal == "spend_limit_reached":
        alerts.append(("danger", "Your overage limit is reached: API requests are refused (402) until you raise it or the cycle ends.", "Review limits"))
    elif balance < low_at:
        alerts.append(("warning", "Your balance is low. Add credits or turn on auto-recharge so requests keep working.", "Buy credits"))

    return {
        "payload": payload,
        "spend": state,
        "balance_micro": balance,
        "included_remaining_micro": min(included_remaining, max(balance, 0)),
        "purchased_micro": max(0, balance - included_remaining),
        "cycle_start": cycle_start,
        "cycle_end": cycle_end,
        "included_credits": included_credits,
        "used_cycle_micro": used_cycle,
        "used_percent": used_percent,
        "chart": credits_chart(series, days, height=260) if chart_total else None,
        "recent": recent_events(workspace, limit=8),
        "has_usage": UsageEvent.objects.filter(workspace=workspace).exists(),
        "has_keys": workspace.api_keys.exists(),
        "alerts": alerts,
    }


def cycle_consumption_chart(workspace, *, start, end):
    """Seed 001's daily credit consumption for the days [start, end] (the Billing page's
    current cycle), from the roll-ups; None when nothing was used."""
    rollup_if_stale()
    series, days = daily_series(workspace, start=start, end=end)
    if not any(sum(values) for values in series.values()):
        return None
    return credits_chart(series, days, height=220)
