"""What the dashboard at / shows for a workspace: balance, cycle usage, chart, requests, alerts."""

from datetime import datetime, timedelta

from django.utils import timezone

from billing.money import MICRO
from billing.selectors import balance_summary, spend_state
from teams.models import Workspace
from usage.alert_callouts import dashboard_alerts
from usage.charts import credits_chart
from usage.forecast import forecast_for
from usage.models import UsageEvent
from usage.reports import daily_series, recent_events
from usage.tasks import rollup_if_stale

CHART_DAYS = 30


def dashboard_context(workspace: Workspace, *, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    rollup_if_stale()
    summary = balance_summary(workspace)
    state = spend_state(workspace.id)
    balance = summary.balance_micro
    included_credits = workspace.billing.included_credits
    today = now.date()
    # billing.selectors.cycle_usage's figure, the one every page shows for "this cycle".
    used_cycle = summary.cycle_used_micro
    included_micro = included_credits * MICRO
    used_percent = min(100, round(used_cycle * 100 / included_micro)) if included_micro else None

    start = today - timedelta(days=CHART_DAYS - 1)
    series, days = daily_series(workspace, start=start, end=today)
    chart_total = sum(sum(values) for values in series.values())

    alerts = dashboard_alerts(workspace, refusal=state.refusal, summary=summary, now=now)

    return {
        "summary": summary,
        "spend": state,
        "balance_micro": balance,
        "included_remaining_micro": summary.included_remaining_micro,
        "purchased_micro": summary.other_micro,
        "cycle_start": summary.cycle.start,
        "cycle_end": summary.cycle.end,
        "included_credits": included_credits,
        "used_cycle_micro": used_cycle,
        "used_percent": used_percent,
        "chart": credits_chart(series, days, height=260) if chart_total else None,
        "recent": recent_events(workspace, limit=8),
        "has_usage": UsageEvent.objects.filter(workspace=workspace).exists(),
        "has_keys": workspace.api_keys.exists(),
        "alerts": alerts,
        "forecast": forecast_for(workspace, summary=summary, now=now),
    }


def cycle_consumption_chart(workspace, *, start, end):
    """Seed 001's daily credit consumption for the days [start, end] (the Billing page's
    current cycle), from the roll-ups; None when nothing was used."""
    rollup_if_stale()
    series, days = daily_series(workspace, start=start, end=end)
    if not any(sum(values) for values in series.values()):
        return None
    return credits_chart(series, days, height=220)
