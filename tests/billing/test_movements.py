"""The Billing page's recent credit movements (one line per day of usage) and the full
ledger: its pages, its CSV, who may see them, and that each workspace sees only its own."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from billing.ledger import ledger_post
from billing.models import EntryKind, LedgerEntry
from tests.billing.helpers import buy, charge

pytestmark = pytest.mark.django_db


def _movements_rows(page):
    section = page.split('id="movements-title"', 1)[1].split("</section>", 1)[0].split("<tbody>", 1)[1]
    return re.findall(r"<tr>(.*?)</tr>", section, re.S)


def _text(html):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def test_recent_movements_sum_each_day_of_usage_and_list_other_movements(workspace, owner, client_for):
    today = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)
    before = LedgerEntry.objects.filter(workspace=workspace).count()  # a sign-up grant stays its own line
    buy(workspace, 500, "pack-1", at=yesterday - timedelta(hours=2))
    for n in range(3):
        charge(workspace, 1.25, f"use-y{n}", at=yesterday + timedelta(minutes=n))
    for n in range(2):
        charge(workspace, 0.5, f"use-t{n}", at=today + timedelta(minutes=n))

    rows = [_text(row) for row in _movements_rows(client_for(owner).get("/settings/billing/").content.decode())]

    assert len(rows) == before + 3  # two days of usage and the purchase, not six lines
    assert "Usage" in rows[0] and "2 requests" in rows[0] and "−1.00" in rows[0]
    assert "Usage" in rows[1] and "3 requests" in rows[1] and "−3.75" in rows[1]
    assert "Credit purchase" in rows[2] and "+500.00" in rows[2]


def test_the_full_ledger_has_every_row_exact_on_pages_of_its_own(workspace, owner, client_for, monkeypatch):
    monkeypatch.setattr("billing.movements.LEDGER_PAGE_SIZE", 2)
    start = timezone.now() - timedelta(hours=1)
    ledger_post(workspace=workspace, kind=EntryKind.USAGE, amount_micro=-52_325, reference="u:a", at=start)
    ledger_post(workspace=workspace, kind=EntryKind.USAGE, amount_micro=-1, reference="u:b", at=start)
    buy(workspace, 250, "pack-2", at=start + timedelta(minutes=5))
    total = LedgerEntry.objects.filter(workspace=workspace).count()
    client = client_for(owner)

    seen, path = [], "/settings/billing/ledger/"
    for _ in range(total):
        page = client.get(path).content.decode()
        seen += re.findall(r'data-label="Credits"[^>]*>([^<]+)<', page)
        older = re.search(r'href="(/settings/billing/ledger/\?before=\d+)"', page)
        if not older:
            break
        path = older.group(1)

    assert len(seen) == total  # every row once, across the pages
    assert seen[:3] == ["+250.000000", "−0.000001", "−0.052325"]  # newest first, to the micro-credit


def test_the_billing_page_links_the_ledger_for_owners_and_admins_only(workspace, owner, admin_user, member, client_for):
    assert 'href="/settings/billing/ledger/"' in client_for(owner).get("/settings/billing/").content.decode()
    assert 'href="/settings/billing/ledger/"' in client_for(admin_user).get("/settings/billing/").content.decode()
    page = client_for(member).get("/settings/billing/").content.decode()
    assert 'href="/settings/billing/ledger/"' not in page
    assert client_for(member).get("/settings/billing/ledger/").status_code == 403
    assert client_for(member).get("/settings/billing/ledger.csv").status_code == 403


def test_the_ledger_csv_has_every_row_with_exact_credits(workspace, owner, client_for):
    ledger_post(workspace=workspace, kind=EntryKind.ADJUSTMENT, amount_micro=-52_325, reference="adj-1",
                memo="=HYPERLINK(\"x\")")
    response = client_for(owner).get("/settings/billing/ledger.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="ledger-{workspace.slug}.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["created_at", "kind", "credits", "reference", "memo"]
    assert len(rows) - 1 == LedgerEntry.objects.filter(workspace=workspace).count()
    adjustment = next(row for row in rows if row[3] == "adj-1")
    assert adjustment[1:3] == ["adjustment", "-0.052325"]
    assert adjustment[4].startswith("'=")  # a spreadsheet shows the memo, never runs it


def test_each_workspace_sees_only_its_own_ledger(workspace, owner, outsider, client_for):
    buy(workspace, 777, "acme-secret-pack")
    theirs = client_for(outsider)
    page = theirs.get("/settings/billing/ledger/").content.decode()
    assert "acme-secret-pack" not in page and "777.000000" not in page
    acme_entry = LedgerEntry.objects.get(reference="acme-secret-pack")
    page = theirs.get(f"/settings/billing/ledger/?before={acme_entry.pk + 1}").content.decode()
    assert "acme-secret-pack" not in page
    csv_text = b"".join(theirs.get("/settings/billing/ledger.csv").streaming_content).decode()
    assert "acme-secret-pack" not in csv_text and "777.000000" not in csv_text
