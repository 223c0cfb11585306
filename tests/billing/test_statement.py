"""The reconciliation statement: its lines add up to the period's balance change, exactly,
for the seeded demo and for any generated history (billing/statement.py)."""

import csv
import io
from datetime import date, datetime, time, timedelta, timezone as dt_timezone
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings, strategies as st

from billing.ledger import Charge, credits_charge_many, ledger_post
from billing.models import EntryKind, LedgerEntry
from billing.statement import SECTION_OF_KIND, statement_build
from tests.factories import UserFactory, WorkspaceFactory
from teams.models import Workspace

pytestmark = pytest.mark.django_db

BASE = date(2026, 6, 1)


def _moment(day_offset, minute):
    return datetime.combine(BASE + timedelta(days=day_offset), time.min, tzinfo=dt_timezone.utc) + timedelta(
        minutes=minute)


def _ledger_through(workspace, day):
    """The sum of the ledger before the end of `day` (UTC): what the balance was then."""
    until = datetime.combine(day + timedelta(days=1), time.min, tzinfo=dt_timezone.utc)
    return LedgerEntry.objects.filter(workspace=workspace, created_at__lt=until).aggregate(
        s=Sum("amount_micro"))["s"] or 0


def _assert_reconciles(workspace, start, end):
    statement = statement_build(workspace, start=start, end=end)
    assert statement.opening_micro == _ledger_through(workspace, start - timedelta(days=1))
    assert statement.closing_micro == _ledger_through(workspace, end)
    assert sum(line.amount_micro for line in statement.lines) == statement.closing_micro - statement.opening_micro
    assert sum(section["total_micro"] for section in statement.sections()) == statement.change_micro
    # Usage is one line per day; every other movement one line per ledger row.
    usage_days = [line.day for line in statement.lines if line.section == "usage"]
    assert len(usage_days) == len(set(usage_days))
    return statement


def test_every_ledger_kind_has_a_section():
    assert set(SECTION_OF_KIND) == set(EntryKind)


OTHER_KINDS = [kind for kind in EntryKind if kind != EntryKind.USAGE]
movement = st.tuples(
    st.sampled_from([EntryKind.USAGE, EntryKind.USAGE, *OTHER_KINDS]),
    st.integers(min_value=1, max_value=5_000 * 1_000_000),  # micro-credits
    st.integers(min_value=0, max_value=59),  # day
    st.integers(min_value=0, max_value=24 * 60 - 1),  # minute of the day
)
NEGATIVE = {EntryKind.EXPIRY, EntryKind.REFUND}


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    history=st.lists(movement, max_size=40),
    start=st.integers(min_value=-3, max_value=62),
    length=st.integers(min_value=0, max_value=70),
)
def test_any_history_reconciles_for_any_period(history, start, length):
    workspace = WorkspaceFactory(owner=UserFactory(), name="Generated")
    charges = []
    for n, (kind, amount, day, minute) in enumerate(history):
        if kind == EntryKind.USAGE:
            charges.append(Charge(workspace.pk, amount, f"gen:{workspace.pk}:{n}", "usage", _moment(day, minute)))
        else:
            signed = -amount if kind in NEGATIVE else amount
            if kind == EntryKind.ADJUSTMENT and n % 3 == 0:
                signed = -amount  # staff correct both ways
            ledger_post(workspace=workspace, kind=kind, amount_micro=signed, reference=f"gen:{workspace.pk}:{n}",
                        memo=f"generated {kind}", at=_moment(day, minute))
    credits_charge_many(charges=charges)
    first = BASE + timedelta(days=start)
    statement = _assert_reconciles(workspace, first, first + timedelta(days=length))
    in_period = [h for h in history if start <= h[2] <= start + length]
    assert len([line for line in statement.lines if line.section != "usage"]) == len(
        [h for h in in_period if h[0] != EntryKind.USAGE])


def test_the_seeded_demo_reconciles_for_every_period():
    call_command("seed_demo", stdout=io.StringIO())
    workspace = Workspace.objects.get(slug="acme-ai")
    first = LedgerEntry.objects.filter(workspace=workspace).order_by("created_at").first().created_at.date()
    last = LedgerEntry.objects.filter(workspace=workspace).order_by("created_at").last().created_at.date()
    whole = _assert_reconciles(workspace, first, last)
    assert whole.opening_micro == 0
    assert {"usage", "purchases", "grants"} <= {line.section for line in whole.lines}
    usage_total = LedgerEntry.objects.filter(workspace=workspace, kind=EntryKind.USAGE).aggregate(
        s=Sum("amount_micro"))["s"]
    assert sum(line.amount_micro for line in whole.lines if line.section == "usage") == usage_total
    day = first
    while day <= last:  # every week, and every single day of the first one
        _assert_reconciles(workspace, day, min(day + timedelta(days=6), last))
        day += timedelta(days=7)
    for offset in range(7):
        _assert_reconciles(workspace, first + timedelta(days=offset), first + timedelta(days=offset))


@pytest.fixture
def history(workspace):
    ledger_post(workspace=workspace, kind=EntryKind.PURCHASE, amount_micro=500 * 1_000_000,
                reference="pi:statement", memo="Pack of 500 credits", at=_moment(0, 60))
    credits_charge_many(charges=[
        Charge(workspace.pk, 6_000_000, "usage:s:1", "document.invoice (r1)", _moment(1, 30)),
        Charge(workspace.pk, 4_360, "usage:s:2", "llm (r2)", _moment(1, 90)),
        Charge(workspace.pk, 2_000_000, "usage:s:3", "image (r3)", _moment(2, 10)),
    ])
    ledger_post(workspace=workspace, kind=EntryKind.ADJUSTMENT, amount_micro=-1_500_000,
                reference="adj:statement", memo="Goodwill correction", at=_moment(2, 600))
    return workspace


def test_the_statement_page_lists_each_section_and_the_balances(client_for, owner, history):
    page = client_for(owner).get("/settings/billing/statement/?start=2026-06-02&end=2026-06-03")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-amount="opening">+500.000000<' in html  # the pack bought the day before
    assert 'data-amount="usage">−8.004360<' in html
    assert 'data-amount="adjustments">−1.500000<' in html
    assert 'data-amount="closing"><strong>+490.495640<' in html
    assert "Usage: 2 charges" in html and "Goodwill correction" in html
    billing = client_for(owner).get("/settings/billing/").content.decode()
    assert 'href="/settings/billing/statement/"' in billing


def test_the_statement_csv_adds_up(client_for, owner, history):
    response = client_for(owner).get("/settings/billing/statement.csv?start=2026-06-01&end=2026-06-03")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["section", "date", "description", "reference", "credits"]
    opening, closing = rows[1], rows[-1]
    lines = [row for row in rows[2:-1] if not row[0].startswith("total")]
    assert (opening[0], opening[4], closing[0], closing[4]) == ("opening balance", "0.000000", "closing balance", "490.495640")
    assert [(row[0], row[1], row[4]) for row in lines] == [
        ("Purchases", "2026-06-01", "500.000000"),
        ("Usage charges", "2026-06-02", "-6.004360"),
        ("Usage charges", "2026-06-03", "-2.000000"),
        ("Adjustments and refunds", "2026-06-03", "-1.500000"),
    ]
    assert sum(Decimal(row[4]) for row in lines) == Decimal(closing[4]) - Decimal(opening[4])


def test_a_bad_period_is_said_and_the_current_cycle_shown(client_for, owner, history):
    response = client_for(owner).get("/settings/billing/statement/?start=2026-06-05&end=2026-06-01", follow=True)
    assert response.status_code == 200
    assert "The first day must be on or before the last day." in response.content.decode()


def test_another_workspaces_ledger_is_never_in_the_statement(client_for, outsider, history):
    html = client_for(outsider).get("/settings/billing/statement/?start=2026-06-01&end=2026-06-03").content.decode()
    assert "Goodwill correction" not in html and "Usage: 2 charges" not in html


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_the_statement_reads_one_snapshot_outside_a_transaction():
    workspace = WorkspaceFactory(owner=UserFactory(email="snapshot@example.com"), name="Snapshot")
    ledger_post(workspace=workspace, kind=EntryKind.PURCHASE, amount_micro=7_000_000, reference="pi:snap",
                at=_moment(0, 0))
    credits_charge_many(charges=[Charge(workspace.pk, 2_500_000, "usage:snap", "u", _moment(0, 5))])
    statement = _assert_reconciles(workspace, BASE, BASE)
    assert (statement.opening_micro, statement.closing_micro) == (0, 4_500_000)
