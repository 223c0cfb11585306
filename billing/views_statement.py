"""The reconciliation statement page and its CSV (billing.statement reads the ledger)."""

from datetime import date, timedelta

from django.contrib import messages
from django.shortcuts import render
from django.utils import timezone

from billing.cycles import cycle_current
from billing.statement import statement_build, statement_csv_rows
from config.api import InvalidRequest, date_parse
from config.csvexport import csv_response
from teams.decorators import workspace_required


def _period_from(request) -> tuple[date, date]:
    """(start, end) days from ?start=&end=, default the current cycle up to today; a bad
    value is said and replaced by the default."""
    today = timezone.now().date()
    default_start = min(cycle_current(request.workspace.pk).start.date(), today)
    start_text, end_text = request.GET.get("start") or "", request.GET.get("end") or ""
    try:
        start = date_parse(start_text, "start") if start_text else default_start
        end = date_parse(end_text, "end") if end_text else today
        if start > end:
            raise InvalidRequest("The first day must be on or before the last day.", param="start")
    except InvalidRequest as error:
        messages.error(request, f"{error.message} Showing the current cycle instead.")
        start, end = default_start, today
    return start, end


@workspace_required
def statement(request):
    start, end = _period_from(request)
    built = statement_build(request.workspace, start=start, end=end)
    today = timezone.now().date()
    last_month_end = today.replace(day=1) - timedelta(days=1)
    return render(request, "billing/statement.html", {
        "statement": built, "sections": built.sections(), "today": today,
        "presets": [
            ("This cycle", min(cycle_current(request.workspace.pk).start.date(), today), today),
            ("Last month", last_month_end.replace(day=1), last_month_end),
            ("Last 90 days", today - timedelta(days=89), today),
        ],
    })


@workspace_required
def statement_csv(request):
    start, end = _period_from(request)
    built = statement_build(request.workspace, start=start, end=end)
    return csv_response(
        filename=f"statement-{request.workspace.slug}-{start}-{end}.csv", rows=statement_csv_rows(built),
    )
