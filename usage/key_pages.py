"""A key's own page (/usage/keys/<key id>/, linked from the API Keys page): its chart of
credits per day by product, its requests and credits, its recent requests with receipts."""

from datetime import timedelta

from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from apikeys.selectors import key_cycle_spend_micro
from billing.selectors import cycle_usage
from teams.decorators import workspace_required
from usage.charts import credits_chart
from usage.reports import daily_series, recent_events, usage_table
from usage.tasks import rollup_if_stale

KEY_RANGES = (("cycle", "This billing cycle"), ("7", "Last 7 days"), ("30", "Last 30 days"), ("90", "Last 90 days"))
RECENT_REQUESTS = 20


def key_range(request, workspace_id):
    """(start, end, choice): the last 7/30/90 days, or the current cycle (the bounds of
    billing.selectors.cycle_usage, as everywhere) up to today; default 30 days."""
    today = timezone.now().date()
    choice = request.GET.get("range") if request.GET.get("range") in dict(KEY_RANGES) else "30"
    if choice == "cycle":
        start = cycle_usage(workspace_id).window.start.date()
        return start, max(start, today), choice
    return today - timedelta(days=int(choice) - 1), today, choice


@workspace_required
def key_page(request, public_id):
    workspace = request.workspace
    # Through the workspace: another workspace's key id is a 404.
    key = get_object_or_404(workspace.api_keys.select_related("created_by"), public_id=public_id)
    rollup_if_stale()
    start, end, choice = key_range(request, workspace.pk)
    series, days = daily_series(workspace, start=start, end=end, split_by="product", key_id=key.pk)
    by_product = usage_table(workspace, start=start, end=end, group_by="product", key_id=key.pk)
    return render(request, "usage/key.html", {
        "key": key, "start": start, "end": end, "range_choice": choice, "ranges": KEY_RANGES,
        "chart": credits_chart(series, days) if any(sum(v) for v in series.values()) else None,
        "by_product": by_product,
        "total_requests": sum(row["requests"] for row in by_product),
        "total_micro": sum(row["credits_micro"] for row in by_product),
        "cycle_spend_micro": key_cycle_spend_micro(key.pk, workspace_id=workspace.pk),
        "recent": recent_events(workspace, limit=RECENT_REQUESTS, key_id=key.pk),
    })
