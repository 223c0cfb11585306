"""The Usage page and its CSV export (server-rendered; the reads live in usage.reports)."""

from django.contrib import messages
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing.money import credits_to_micro, format_usd
from billing.selectors import balance_summary, cycle_usage
from config.api import InvalidRequest
from config.csvexport import csv_response
from teams.decorators import workspace_required
from usage.charts import credits_chart
from usage.cycle_chart import included_line
from usage.forecast import forecast_for
from usage.reports import (
    daily_series,
    event_lookup,
    usage_query,
    usage_range,
    usage_table,
)
from usage.receipts import ReceiptNotFound, event_receipt
from usage.tasks import rollup_if_stale

RANGES = (
    ("cycle", "This billing cycle"), ("7", "Last 7 days"), ("30", "Last 30 days"),
    ("90", "Last 90 days"), ("custom", "Custom"),
)
# The chart's toggle: what the day's bars are stacked by.
SPLITS = (("product", "Product"), ("key", "API key"))


def _range_from(request, usage):
    """(start, end, range choice) from the query string; a bad value falls back to 30 days.
    "cycle" is the days of `usage`'s cycle (billing.selectors.cycle_usage) up to today."""
    choice = request.GET.get("range") or "30"
    try:
        if choice == "cycle":
            today = timezone.now().date()
            start = usage.window.start.date()
            return start, max(start, today), choice
        if choice == "custom":
            # The form's empty date fields mean "the default" here (the API refuses them).
            start, end = usage_range(request.GET.get("start") or None, request.GET.get("end") or None)
        else:
            days = int(choice) if choice in ("7", "30", "90") else 30
            choice = str(days)
            start, end = usage_range(None, None, default_days=days)
    except InvalidRequest as error:
        messages.error(request, f"{error.message} Showing the last 30 days instead.")
        choice = "30"
        start, end = usage_range(None, None)
    return start, end, choice


@workspace_required
def usage_page(request):
    workspace = request.workspace
    rollup_if_stale()
    usage = cycle_usage(workspace.pk)
    start, end, choice = _range_from(request, usage)
    split = request.GET.get("split") if request.GET.get("split") in dict(SPLITS) else "product"
    series, days = daily_series(workspace, start=start, end=end, split_by=split)
    included = included_line(workspace, window=usage.window, start=start, end=end) if series else None
    by_key = usage_table(workspace, start=start, end=end, group_by="key")
    by_product = usage_table(workspace, start=start, end=end, group_by="product")
    total = sum(row["credits_micro"] for row in by_product)
    lookup_id = (request.GET.get("request") or "").strip()
    looked_up = event_lookup(workspace, lookup_id) if lookup_id else None
    return render(request, "usage/usage.html", {
        "start": start, "end": end, "range_choice": choice, "ranges": RANGES,
        "split": split, "splits": SPLITS,
        "chart": credits_chart(series, days, included=included) if series else None,
        "chart_has_cycle_line": included is not None,
        "range_query": _range_query(choice, start, end),
        "by_key": by_key, "by_product": by_product,
        "total_micro": total, "total_requests": sum(row["requests"] for row in by_product),
        "lookup_id": lookup_id, "looked_up": looked_up,
        "today": timezone.now().date(),
        "cycle_usage": usage,
        "forecast": forecast_for(workspace, summary=balance_summary(workspace)),
    })


def _range_query(choice, start, end):
    """The query string of the range shown, for links that change only the chart's stacking."""
    if choice == "custom":
        return f"range=custom&start={start.isoformat()}&end={end.isoformat()}"
    return f"range={choice}"


@workspace_required
def receipt_page(request):
    """The receipt of one request, reached from the Usage page's lookup (?request=<id>)."""
    event_id = (request.GET.get("request") or "").strip()
    try:
        receipt = event_receipt(request.workspace, event_id)
    except ReceiptNotFound as missing:
        return render(request, "usage/receipt.html", {"lookup_id": event_id, "missing": str(missing)},
                      status=404)
    return render(request, "usage/receipt.html", {
        "lookup_id": event_id, "receipt": receipt, "charged_micro": credits_to_micro(receipt["charged"]),
        "occurred_at": parse_datetime(receipt["occurred_at"]),
        "charged_at": parse_datetime(receipt["charged_at"]) if receipt["charged_at"] else None,
    })


@workspace_required
def usage_export(request):
    """CSV of GET /api/v1/usage's rows for the chosen range and grouping."""
    start, end, _ = _range_from(request, cycle_usage(request.workspace.pk))
    group_by = request.GET.get("group_by") if request.GET.get("group_by") in ("day", "key", "product") else "day"
    data = usage_query(request.workspace, start=start, end=end, group_by=group_by)
    units = sorted({unit for row in data["rows"] for unit in row["quantity"]})
    rows = [[group_by if group_by != "key" else "key_id", "requests", *units, "credits", "usd"]]
    for row in data["rows"]:
        value = row["day"] if group_by == "day" else row["key_id"] if group_by == "key" else row["product"]
        credits = row["credits"]
        rows.append([value, row["requests"], *[row["quantity"].get(u, "0") for u in units],
                     credits, _usd_text(credits)])
    rows.append(["total", "", *["" for _ in units], data["total_credits"], _usd_text(data["total_credits"])])
    filename = f"usage-{request.workspace.slug}-{start}-{end}-by-{group_by}.csv"
    return csv_response(filename=filename, rows=rows)


def _usd_text(credits_text):
    return format_usd(credits_to_micro(credits_text))
