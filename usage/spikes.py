"""Usage spikes: a day's usage over 3× its 7-day average e-mails owners and admins, once
that day, naming the products and keys that grew (a daily beat task, from the roll-ups).

A spike needs a history and a size: the 7 days before must have some usage (a workspace's
first busy day is not a spike of anything) and the day must reach SPIKE_FLOOR_CREDITS, so a
tiny workspace going from 1 to 5 credits is left alone. The alert is raised through
billing.alerts (unique per workspace and day: a second run that day sends nothing).
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from billing.alerts import alert_raise
from billing.models import Alert, AlertKind
from billing.money import MICRO
from teams.models import Workspace
from usage.models import DailyUsage

SPIKE_FACTOR = 3
SPIKE_FLOOR_CREDITS = 1_000  # USD 10 in a day
AVERAGE_DAYS = 7
GREW_SHOWN = 5


@dataclass(frozen=True)
class Grew:
    label: str
    day_micro: int
    average_micro: int


def _is_spike(day_micro, week_micro):
    """Over 3× the 7-day average (in integers: day × 7 > 3 × week), over the floor, with history."""
    return (
        week_micro > 0 and day_micro >= SPIKE_FLOOR_CREDITS * MICRO
        and day_micro * AVERAGE_DAYS > SPIKE_FACTOR * week_micro
    )


def _totals(day, workspace_ids=None):
    """{workspace id: (the day's credits, the 7 days before's credits)} from the roll-ups."""
    week_start = day - timedelta(days=AVERAGE_DAYS)
    rows = DailyUsage.objects.filter(day__gte=week_start, day__lte=day)
    if workspace_ids is not None:
        rows = rows.filter(workspace_id__in=workspace_ids)
    totals = rows.values("workspace_id").annotate(
        on_day=Sum("credits_micro", filter=Q(day=day)), week=Sum("credits_micro", filter=Q(day__lt=day)),
    )
    return {row["workspace_id"]: (row["on_day"] or 0, row["week"] or 0) for row in totals}


def _grew(workspace_id, day, field, label_of):
    """The products (or keys) whose usage that day is above their own 7-day average, the
    biggest growth first."""
    rows = (
        DailyUsage.objects.filter(workspace_id=workspace_id, day__gte=day - timedelta(days=AVERAGE_DAYS), day__lte=day)
        .values(*field).annotate(on_day=Sum("credits_micro", filter=Q(day=day)),
                                 week=Sum("credits_micro", filter=Q(day__lt=day)))
    )
    grew = []
    for row in rows:
        on_day, week = row["on_day"] or 0, row["week"] or 0
        if on_day * AVERAGE_DAYS > week:
            grew.append(Grew(label_of(row), on_day, week // AVERAGE_DAYS))
    grew.sort(key=lambda g: (-(g.day_micro - g.average_micro), g.label))
    return grew[:GREW_SHOWN]


def _product_label(row):
    return f"product {row['product']}"


def _key_label(row):
    if row["key__name"] is None:
        return "a deleted key"
    return f"key {row['key__name']} ({row['key__public_id']})"


def spike_alert(workspace: Workspace, *, day: date, day_micro: int, week_micro: int) -> Alert | None:
    grew = (_grew(workspace.pk, day, ("product",), _product_label)
            + _grew(workspace.pk, day, ("key__name", "key__public_id"), _key_label))
    average = week_micro // AVERAGE_DAYS
    multiple = f"{day_micro * AVERAGE_DAYS / week_micro:.1f}"  # for people only; the rule used integers
    return alert_raise(
        workspace=workspace, kind=AlertKind.USAGE_SPIKE, period=day.isoformat(),
        subject=f"Usage spike in {workspace.name} on {day:%b} {day.day}: {multiple}× the 7-day average",
        template="alert_usage_spike",
        context={"day": day, "day_micro": day_micro, "average_micro": average, "multiple": multiple, "grew": grew},
    )


def spikes_detect(*, day: date | None = None) -> list[Alert]:
    """Raise the spike alerts of `day` (default: yesterday, the last full UTC day) for every
    workspace; returns the alerts raised now."""
    day = day or timezone.now().date() - timedelta(days=1)
    spiking = {ws: pair for ws, pair in _totals(day).items() if _is_spike(*pair)}
    raised = []
    for workspace in Workspace.objects.filter(pk__in=spiking):
        day_micro, week_micro = spiking[workspace.pk]
        with transaction.atomic():  # the alert and its sends together; mailed once committed
            alert = spike_alert(workspace, day=day, day_micro=day_micro, week_micro=week_micro)
        if alert is not None:
            raised.append(alert)
    return raised
