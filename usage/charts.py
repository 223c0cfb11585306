"""Plotly figures built in Python; pages embed their JSON and static/js/usage-chart.js draws them.

The CSP allows only our own scripts, so the figure travels as a JSON data block, never as
inline script. Values are credits as decimal strings (plotly.js reads numeric strings), so
no float is ever made from money here.
"""

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import plotly.graph_objects as go

from billing.money import micro_to_credits


@dataclass(frozen=True)
class IncludedLine:
    """The current cycle's included credits beside what the cycle has used, day by day.

    `days` are the chart's days inside the cycle; `used_micro` the cycle's usage up to and
    including each day (None for days still to come)."""

    days: list[date]
    used_micro: list[int | None]
    included_micro: int


def _credits_text(micro):
    """'500', '0.00436': plain digits (a normalized Decimal alone would say '5E+2')."""
    return format(micro_to_credits(micro).normalize(), "f")


def credits_chart(
    series: dict[str, list[int]], days: list[date], *, height: int = 300,
    included: IncludedLine | None = None,
) -> dict:
    """A stacked bar chart of credits per day, one trace per series name; with `included`,
    the cycle's included credits and its running usage as lines on a right-hand axis (a
    cycle's total dwarfs a day's bars on one axis)."""
    figure = go.Figure()
    x = [day.isoformat() for day in days]
    for name, values in sorted(series.items(), key=lambda item: -sum(item[1])):
        figure.add_trace(go.Bar(
            name=str(name), x=x, y=[_credits_text(v) for v in values],
            hovertemplate="%{x}<br>%{y} credits<extra>" + str(name) + "</extra>",
        ))
    if included is not None:
        _add_included(figure, included)
    figure.update_layout(
        barmode="stack", height=height, margin=dict(l=48, r=56 if included else 16, t=16, b=40),
        paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
        yaxis=dict(title="credits per day", type="linear", rangemode="tozero", gridcolor="rgba(128,128,128,0.2)"),
        xaxis=dict(type="date", tickformat="%b %d"),
        legend=dict(orientation="h", y=-0.2),
        showlegend=len(series) > 1 or included is not None,
        font=dict(family="system-ui, sans-serif", size=12, color="#5b6478"),
    )
    if included is not None:
        figure.update_layout(yaxis2=dict(
            title="credits this cycle", type="linear", overlaying="y", side="right", rangemode="tozero",
            showgrid=False,
        ))
    return json.loads(figure.to_json())


def _add_included(figure, included):
    x = [day.isoformat() for day in included.days]
    # From the left edge of the first day's bar to the right edge of the last one's, so a
    # single day still shows a line.
    edges = [(datetime.combine(included.days[0], time()) - timedelta(hours=12)).isoformat(),
             (datetime.combine(included.days[-1], time()) + timedelta(hours=12)).isoformat()]
    label = f"Included credits ({_credits_text(included.included_micro)})"
    figure.add_trace(go.Scatter(
        name=label, x=edges, y=[_credits_text(included.included_micro)] * 2, yaxis="y2",
        mode="lines", line=dict(dash="dash", width=2, color="#b45309"),
        hovertemplate="%{y} credits included this cycle<extra></extra>",
    ))
    used = [(day, value) for day, value in zip(x, included.used_micro) if value is not None]
    figure.add_trace(go.Scatter(
        name="Used this cycle", x=[day for day, _ in used], y=[_credits_text(v) for _, v in used],
        yaxis="y2", mode="lines+markers", line=dict(width=2, color="#1f2937"), marker=dict(size=4),
        hovertemplate="%{x}<br>%{y} credits used this cycle<extra></extra>",
    ))
