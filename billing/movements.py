"""The credit movements a person reads: the Billing page's recent lines (usage summed per
day), and the full ledger, one row per entry, as pages and as a CSV download.

The ledger itself holds one row per charged request; a busy workspace writes thousands a
day, so the Billing page shows each day's usage as one line (requests and credits) and
every other movement (purchase, grant, expiry, adjustment, …) as its own line. The day
lines come from the usage day totals written with each charge (UsageDayTotal: counting a
busy workspace's 30 days of ledger rows took 730 ms at 10 million events), the other lines
from the ledger's index of the rows that are not usage; the full ledger reads the
(workspace, created_at) index a page at a time. Never the whole ledger.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone

from django.db.models import Q, Sum
from django.utils import timezone

from billing.models import EntryKind, LedgerEntry, UsageDayTotal
from billing.money import format_credits
from teams.models import Workspace

RECENT_DAYS = 30
# A window of RECENT_DAYS holds at most that many usage lines; other movements are rare
# (a purchase, a monthly grant), and past this many the full ledger is the place to look.
RECENT_OTHER_LINES = 50
LEDGER_PAGE_SIZE = 50


@dataclass(frozen=True)
class Movement:
    """One line of "Recent credit movements": a day's usage, or one other ledger entry."""

    kind: str
    label: str
    amount_micro: int
    day: date
    at: datetime | None = None  # the entry's time; None for a day of usage
    requests: int = 0  # a day of usage: how many charged requests it sums
    memo: str = ""

    @property
    def is_usage_day(self) -> bool:
        return self.kind == EntryKind.USAGE


def movements_recent(workspace: Workspace, *, now: datetime | None = None, days: int = RECENT_DAYS) -> list[Movement]:
    """The movements of today and the `days` UTC days before it, newest first: one line per
    UTC day of usage, and each purchase, grant, expiry, refund or adjustment on its own."""
    now = now or timezone.now()
    today = now.astimezone(dt_timezone.utc).date()
    first_day = today - timedelta(days=days)
    since = datetime.combine(first_day, time.min, tzinfo=dt_timezone.utc)
    others = LedgerEntry.objects.filter(workspace=workspace, created_at__gte=since, created_at__lte=now).exclude(
        kind=EntryKind.USAGE)
    lines = _usage_days(workspace, first_day, today) + _other_entries(others)
    # A day's usage sorts as of the end of that day, above the purchases made during it.
    return sorted(lines, key=_newest_first_key, reverse=True)


def _usage_days(workspace, first_day, last_day) -> list[Movement]:
    rows = (
        UsageDayTotal.objects.filter(workspace=workspace, day__gte=first_day, day__lte=last_day)
        .values("day")
        .annotate(requests=Sum("charges"), charged=Sum("charged_micro"))
        .order_by()
    )
    return [
        Movement(kind=EntryKind.USAGE, label="Usage", amount_micro=-row["charged"], day=row["day"],
                 requests=row["requests"])
        for row in rows
        if row["requests"]
    ]


def _other_entries(others) -> list[Movement]:
    entries = others.order_by("-created_at", "-id")[:RECENT_OTHER_LINES]
    return [
        Movement(kind=entry.kind, label=entry.get_kind_display(), amount_micro=entry.amount_micro,
                 day=entry.created_at.astimezone(dt_timezone.utc).date(), at=entry.created_at, memo=entry.memo)
        for entry in entries
    ]


def _newest_first_key(line: Movement):
    if line.at is None:
        return datetime.combine(line.day, datetime.max.time(), tzinfo=dt_timezone.utc)
    return line.at


# --- the full ledger ----------------------------------------------------------------------

@dataclass(frozen=True)
class LedgerPage:
    entries: list[LedgerEntry]
    older_cursor: int | None  # the `before` of the next (older) page, None on the last one
    is_first: bool


def ledger_page(workspace: Workspace, *, before: int | None = None, size: int | None = None) -> LedgerPage:
    """A page of the workspace's ledger, newest first, older than the entry `before`.

    Keyset pages (`before` is an entry id) cost the same on page 1 and page 10,000: no
    COUNT and no OFFSET over a ledger of millions of usage rows. An id of another workspace
    or none at all starts from the newest.
    """
    size = size or LEDGER_PAGE_SIZE
    entries = LedgerEntry.objects.filter(workspace=workspace).select_related("created_by")
    cursor = entries.filter(pk=before).values_list("created_at", "pk").first() if before else None
    if cursor is not None:
        created_at, pk = cursor
        entries = entries.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk))
    rows = list(entries.order_by("-created_at", "-id")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return LedgerPage(entries=rows, older_cursor=rows[-1].pk if more else None, is_first=cursor is None)


LEDGER_CSV_HEADER = ["created_at", "kind", "credits", "reference", "memo"]


def ledger_csv_rows(workspace: Workspace) -> Iterator[list[object]]:
    """Every entry of the workspace's ledger, oldest first, with the exact credits of the API
    (six places): the header row first. Read in chunks, so a big ledger streams."""
    yield LEDGER_CSV_HEADER
    entries = LedgerEntry.objects.filter(workspace=workspace).order_by("created_at", "id")
    for created_at, kind, amount, reference, memo in entries.values_list(
        "created_at", "kind", "amount_micro", "reference", "memo"
    ).iterator(chunk_size=2000):
        stamp = created_at.astimezone(dt_timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        yield [stamp, kind, format_credits(amount), reference or "", memo]
