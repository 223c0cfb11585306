"""Plotly figures built in Python; pages embed their JSON and static/js/usage-chart.js draws them.

The CSP allows only our own scripts, so the figure travels as a JSON data block, never as
inline script. Values are credits as decimal strings (plotly.js reads numeric strings), so
no float is ever made from money here.
"""

import json
from datetime import date

import plotly.graph_objects as go

from billing.money import micro_to_credits


def credits_chart(series: dict[str, list[int]], days: list[date], *, height: int = 300) -> dict:
    """A stacked bar chart of credits per day, one trace per series name."""
    figure = go.Figure()
    x = [day.isoformat() for day in days]
    for name, values in sorted(series.items(), key=lambda item: -sum(item[1])):
        figure.add_trace(go.Bar(
            name=str(name), x=x, y=[str(micro_to_credits(v).normalize()) for v in values],
            hovertemplate="%{x}<br>%{y} credits<extra>" + str(name) + "</extra>",
        ))
    figure.update_layout(
        barmode="stack", height=height, margin=dict(l=48, r=16, t=16, b=40),
        paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
        yaxis=dict(title="credits", type="linear", rangemode="tozero", gridcolor="rgba(128,128,128,0.2)"),
        xaxis=dict(type="date", tickformat="%b %d"),
        legend=dict(orientation="h", y=-0.2),
        showlegend=len(series) > 1,
        font=dict(family="system-ui, sans-serif", size=12, color="#5b6478"),
    )
    return json.loads(figure.to_json())
