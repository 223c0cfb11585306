"""The run-out forecast: how long the balance lasts at the recent rate, and the cycle's spend.

docs/api.md's `forecast` of GET /api/v1/balance, also shown on the dashboard and the Usage
page:
- daily_rate = the last 7 full days' usage (today excluded) ÷ min(7, days since the first
  usage), so a workspace that started three days ago is averaged over those three days, not
  diluted over seven;
- days_left = floor(what may still be spent ÷ daily_rate), None when the rate is 0; what may
  still be spent is the positive balance plus the overage allowance not used yet (a pro or
  pay-as-you-go workspace keeps running past zero up to its overage limit);
- projected_cycle_spend = used this cycle + daily_rate × the time left to the cycle's end.

Usage comes from usage.reports (the roll-ups plus the events after their watermark). Integer arithmetic on micro-credits
keeps it exact: the rate is the fraction total ÷ window, divided out only when shown.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Min
from django.utils import timezone

from billing.money import MICRO, format_credits
from billing.selectors import BalanceSummary, balance_payload, balance_summary
from teams.models import Workspace
from usage.models import DailyUsage
from usage.reports import daily_series

RATE_DAYS = 7
SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class Forecast:
    window_days: int  # the days the rate is averaged over: min(7, days since the first usage)
    window_micro: int  # usage over the last 7 full days
    days_left: int | None  # None: no usage to extrapolate from
    projected_cycle_spend_micro: int
    included_cover_cycle: bool  # the included credits left pay for the rate to the cycle's end
    cycle_end: datetime

    @property
    def daily_rate_micro(self) -> int:
        """Micro-credits per day, rounded half up (only for showing it)."""
        return _divide_half_up(self.window_micro, self.window_days) if self.window_days else 0

    @property
    def has_rate(self) -> bool:
        return self.window_micro > 0


def _divide_half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def first_usage_day(workspace: Workspace, *, recent: dict[date, int] | None = None) -> date | None:
    """The first day with credits used, None before any: the roll-ups' first, or the first
    of `recent` ({day: credits} of the last days, live events included) not rolled up yet."""
    rolled = DailyUsage.objects.filter(workspace=workspace, credits_micro__gt=0).aggregate(d=Min("day"))["d"]
    live = min((day for day, credits in (recent or {}).items() if credits > 0), default=None)
    return min(day for day in (rolled, live) if day is not None) if rolled or live else None


def _recent_days(workspace, today):
    """{day: credits used} for the last RATE_DAYS full days and today (usage.reports: the
    roll-ups plus the events after their watermark, so yesterday's late charges count)."""
    series, days = daily_series(workspace, start=today - timedelta(days=RATE_DAYS), end=today)
    return {day: sum(values[n] for values in series.values()) for n, day in enumerate(days)}


def forecast_compute(
    *, window_micro: int, days_since_first_usage: int, used_cycle_micro: int, balance_micro: int,
    included_remaining_micro: int, overage_limit_micro: int | None, now: datetime, cycle_end: datetime,
) -> Forecast:
    """The arithmetic alone (tested on its own): see the module's docstring."""
    window_days = max(0, min(RATE_DAYS, days_since_first_usage))
    if window_days == 0:
        window_micro = 0  # the first usage is today's: no full day to average over yet
    overage_micro = max(0, -balance_micro)
    allowance_micro = max(0, overage_limit_micro - overage_micro) if overage_limit_micro is not None else 0
    spendable_micro = max(0, balance_micro) + allowance_micro
    seconds_left = max(0, int((cycle_end - now).total_seconds()))
    if window_micro <= 0:
        return Forecast(window_days, 0, None, used_cycle_micro, True, cycle_end)
    # spendable ÷ (total ÷ window), kept in integers so the floor is exact.
    days_left = spendable_micro * window_days // window_micro
    # rate × seconds left: total × seconds ÷ (window × 86,400), rounded half up to the micro-credit.
    still_to_spend = _divide_half_up(window_micro * seconds_left, window_days * SECONDS_PER_DAY)
    included_cover = included_remaining_micro * window_days * SECONDS_PER_DAY >= window_micro * seconds_left
    return Forecast(window_days, window_micro, days_left, used_cycle_micro + still_to_spend,
                    included_cover, cycle_end)


def forecast_for(workspace: Workspace, *, summary: BalanceSummary, used_cycle_micro: int | None = None,
                 now: datetime | None = None) -> Forecast:
    """The forecast of `workspace` given billing's `balance_summary` (passed in: the pages and
    the API have read it already). `used_cycle_micro` defaults to the summary's "this cycle"
    figure (billing.selectors.cycle_usage), the one every page shows."""
    now = now or timezone.now()
    today = now.date()
    recent = _recent_days(workspace, today)
    first = first_usage_day(workspace, recent=recent)
    window = sum(credits for day, credits in recent.items() if day < today)
    if used_cycle_micro is None:
        used_cycle_micro = summary.cycle_used_micro
    limit = summary.overage_limit
    return forecast_compute(
        window_micro=window,
        days_since_first_usage=(today - first).days if first else 0,
        used_cycle_micro=used_cycle_micro,
        balance_micro=summary.balance_micro,
        included_remaining_micro=summary.included_remaining_micro,
        overage_limit_micro=None if limit is None else limit * MICRO,
        now=now,
        cycle_end=summary.cycle.end,
    )


def forecast_payload(forecast: Forecast) -> dict:
    """The balance API's `forecast` object (docs/api.md)."""
    return {
        "daily_rate": format_credits(forecast.daily_rate_micro),
        "days_left": forecast.days_left,
        "projected_cycle_spend": format_credits(forecast.projected_cycle_spend_micro),
    }


def balance_with_forecast(workspace: Workspace, *, now: datetime | None = None) -> dict:
    """GET /api/v1/balance: billing's answer plus the forecast, which needs usage's roll-ups
    (billing may not import usage, so the forecast is added here)."""
    summary = balance_summary(workspace, at=now)
    payload = balance_payload(workspace, summary=summary)
    payload["forecast"] = forecast_payload(forecast_for(workspace, summary=summary, now=now))
    return payload
