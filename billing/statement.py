"""The reconciliation statement: for any period, every movement of credits between the
opening and the closing balance, read from the ledger (billing.ledger writes it; this
module only reads).

A line is either a day's usage charges (summed) or one ledger row of another kind, in the
section its kind belongs to. Every kind belongs to exactly one section (checked below and
in the tests), and the closing balance is the opening balance plus the period's rows, so
the lines always add up to the balance change, to the micro-credit.
"""

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone as dt_timezone

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate

from billing.ledger import workspace_balance
from billing.models import EntryKind, Invoice, LedgerEntry
from billing.money import format_credits
from teams.models import Workspace

# (section, title, kinds), in the statement's order.
SECTIONS = (
    ("usage", "Usage charges", (EntryKind.USAGE,)),
    ("purchases", "Purchases", (EntryKind.PURCHASE, EntryKind.AUTO_RECHARGE)),
    ("grants", "Grants", (EntryKind.SIGNUP_BONUS, EntryKind.INCLUDED_GRANT)),
    ("expiries", "Expiries", (EntryKind.EXPIRY,)),
    ("adjustments", "Adjustments and refunds", (EntryKind.ADJUSTMENT, EntryKind.REFUND)),
    ("invoices", "Invoices (overage settled)", (EntryKind.OVERAGE_SETTLEMENT,)),
)
SECTION_OF_KIND = {kind: section for section, _title, kinds in SECTIONS for kind in kinds}
# A kind added to EntryKind without a section here would drop its rows from the sum.
if set(SECTION_OF_KIND) != set(EntryKind):
    raise RuntimeError(f"Give these ledger kinds a statement section: {set(EntryKind) - set(SECTION_OF_KIND)}")

_SETTLEMENT = re.compile(r"^cycle:(\d+):settlement$")


@dataclass(frozen=True)
class StatementLine:
    section: str
    day: date
    description: str
    reference: str
    amount_micro: int


@dataclass
class Statement:
    workspace: Workspace
    start: date  # first day, inclusive (UTC)
    end: date  # last day, inclusive (UTC)
    opening_micro: int
    closing_micro: int
    lines: list[StatementLine] = field(default_factory=list)

    @property
    def change_micro(self) -> int:
        return self.closing_micro - self.opening_micro

    def sections(self) -> list[dict]:
        """[{key, title, lines, total_micro}] in SECTIONS order, empty sections included."""
        return [
            {"key": key, "title": title,
             "lines": [line for line in self.lines if line.section == key],
             "total_micro": sum(line.amount_micro for line in self.lines if line.section == key)}
            for key, title, _kinds in SECTIONS
        ]


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=dt_timezone.utc)


def statement_build(workspace: Workspace, *, start: date, end: date) -> Statement:
    """The statement of the UTC days [start, end] of `workspace`, read in one snapshot."""
    since, until = day_start(start), day_start(end + timedelta(days=1))
    with _one_snapshot():
        rows = LedgerEntry.objects.filter(workspace=workspace, created_at__gte=since)
        # The balance now, less what moved since each boundary: reads only the rows from the
        # period's start on, never the workspace's whole history.
        balance = workspace_balance(workspace.pk)
        after_start = rows.aggregate(s=Sum("amount_micro"))["s"] or 0
        after_end = rows.filter(created_at__gte=until).aggregate(s=Sum("amount_micro"))["s"] or 0
        period = rows.filter(created_at__lt=until)
        lines = _usage_lines(period) + _other_lines(workspace, period)
    lines.sort(key=lambda line: (line.day, [s for s, _t, _k in SECTIONS].index(line.section)))
    return Statement(
        workspace=workspace, start=start, end=end,
        opening_micro=balance - after_start, closing_micro=balance - after_end, lines=lines,
    )


class _one_snapshot:
    """A read-only transaction whose queries all see the same moment (PostgreSQL:
    REPEATABLE READ), so a charge landing meanwhile cannot make the lines miss the balances.
    Inside a caller's transaction (and on SQLite, one writer at a time) the caller's."""

    def __enter__(self):
        self.atomic = None
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            self.atomic = transaction.atomic()
            self.atomic.__enter__()
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return self

    def __exit__(self, *exc):
        if self.atomic is not None:
            return self.atomic.__exit__(*exc)
        return False


def _usage_lines(period):
    """One line per UTC day with usage: the day's charges summed."""
    days = (
        period.filter(kind=EntryKind.USAGE)
        .annotate(day=TruncDate("created_at", tzinfo=dt_timezone.utc))
        .values("day").annotate(total=Sum("amount_micro"), charges=Count("id")).order_by("day")
    )
    return [
        StatementLine("usage", row["day"], f"Usage: {row['charges']:,} charge{'s' if row['charges'] != 1 else ''}",
                      "", row["total"])
        for row in days
    ]


def _other_lines(workspace, period):
    """Every other row on its own, with its invoice number where it settled a cycle."""
    entries = list(period.exclude(kind=EntryKind.USAGE).order_by("created_at", "id"))
    cycles = {int(m.group(1)) for e in entries if (m := _SETTLEMENT.match(e.reference or ""))}
    numbers = dict(
        Invoice.objects.filter(workspace=workspace, cycle_id__in=cycles).values_list("cycle_id", "number")
    ) if cycles else {}
    lines = []
    for entry in entries:
        label = EntryKind(entry.kind).label
        description = f"{label}: {entry.memo}" if entry.memo else label
        settled = _SETTLEMENT.match(entry.reference or "")
        if settled and int(settled.group(1)) in numbers:
            description = f"{description} (invoice {numbers[int(settled.group(1))]})"
        lines.append(StatementLine(
            SECTION_OF_KIND[entry.kind], entry.created_at.astimezone(dt_timezone.utc).date(),
            description, entry.reference or "", entry.amount_micro,
        ))
    return lines


def statement_csv_rows(statement: Statement) -> list[list]:
    """The statement as CSV rows: a header, the opening balance, each line in date order,
    each section's total, the closing balance. Amounts in credits with six places."""
    rows = [["section", "date", "description", "reference", "credits"],
            ["opening balance", statement.start.isoformat(), "Balance at the start of the first day", "",
             format_credits(statement.opening_micro)]]
    titles = {key: title for key, title, _kinds in SECTIONS}
    for line in statement.lines:
        rows.append([titles[line.section], line.day.isoformat(), line.description, line.reference,
                     format_credits(line.amount_micro)])
    for section in statement.sections():
        rows.append([f"total: {section['title']}", "", "", "", format_credits(section["total_micro"])])
    rows.append(["closing balance", statement.end.isoformat(), "Balance at the end of the last day", "",
                 format_credits(statement.closing_micro)])
    return rows
