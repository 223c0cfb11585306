"""The ledger: append-only rows, one movement per reference, balance == ledger sum."""

import pytest
from allauth.account.models import EmailAddress
from allauth.account.signals import email_confirmed
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from billing.ledger import credits_charge
from billing.models import BalanceShard, EntryKind, LedgerEntry, LedgerIsAppendOnly, UsageDayTotal
from billing.money import MICRO
from billing.selectors import spend_state
from billing.services import signup_bonus_grant
from teams.services import workspace_create
from tests.billing.helpers import balance, buy, charge
from tests.factories import UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(workspace):
    return buy(workspace, 10, "p1").entry


def test_orm_cannot_update_or_delete_a_row(entry):
    entry.amount_micro = 1
    with pytest.raises(LedgerIsAppendOnly):
        entry.save()
    with pytest.raises(LedgerIsAppendOnly):
        entry.delete()
    with pytest.raises(LedgerIsAppendOnly):
        LedgerEntry.objects.filter(pk=entry.pk).update(amount_micro=1)
    with pytest.raises(LedgerIsAppendOnly):
        LedgerEntry.objects.filter(pk=entry.pk).delete()
    assert LedgerEntry.objects.get(pk=entry.pk).amount_micro == 10 * MICRO


def test_raw_sql_cannot_update_a_row(entry):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE billing_ledgerentry SET amount_micro = 1 WHERE id = %s", [entry.pk])
    assert LedgerEntry.objects.get(pk=entry.pk).amount_micro == 10 * MICRO


@pytest.mark.postgres
def test_raw_sql_cannot_delete_a_row_on_postgres(entry):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM billing_ledgerentry WHERE id = %s", [entry.pk])
    assert LedgerEntry.objects.filter(pk=entry.pk).exists()


def test_a_usage_reference_moves_credits_once(workspace):
    buy(workspace, 10, "p1")
    first = credits_charge(workspace=workspace, amount_micro=4 * MICRO, reference="usage:req_1")
    again = credits_charge(workspace=workspace, amount_micro=4 * MICRO, reference="usage:req_1")
    assert first.created and not again.created
    assert first.balance_micro == again.balance_micro == 6 * MICRO
    assert balance(workspace) == 6 * MICRO


def test_prepaid_may_go_below_zero_only_by_usage_already_done(workspace):
    buy(workspace, 1, "p1")
    assert spend_state(workspace.pk).refusal is None
    posting = credits_charge(workspace=workspace, amount_micro=3 * MICRO, reference="usage:big")
    assert posting.balance_micro == -2 * MICRO
    assert spend_state(workspace.pk).refusal == "out_of_credits"


@pytest.mark.ledger_unbalanced
def test_check_ledger_passes_then_names_a_workspace_out_of_balance(workspace, capsys):
    buy(workspace, 10, "p1")
    call_command("check_ledger")
    assert "all balanced" in capsys.readouterr().out

    # a balance changed behind the ledger's back (what check_ledger exists to catch)
    BalanceShard.objects.filter(workspace=workspace, shard=3).update(balance_micro=7)
    with pytest.raises(CommandError) as error:
        call_command("check_ledger")
    assert workspace.slug in str(error.value)


def test_check_ledger_names_a_usage_day_total_off_its_charges(workspace):
    charge(workspace, 2, "u-day-1")
    call_command("check_ledger")
    # a charge counted in the amount but not in the count (a rolling deploy's old process)
    UsageDayTotal.objects.filter(workspace=workspace).update(charges=0)
    with pytest.raises(CommandError) as error:
        call_command("check_ledger")
    assert workspace.slug in str(error.value) and "in 0 charges != ledger" in str(error.value)
    UsageDayTotal.objects.filter(workspace=workspace, charged_micro__gt=0).update(charges=1)


def test_signup_bonus_on_email_confirmation_once_and_on_the_first_workspace(db):
    user = UserFactory(email="new@example.com", verified=False)
    first = workspace_create(owner=user, name="First")
    second = workspace_create(owner=user, name="Second")
    assert signup_bonus_grant(user) is None  # not verified yet: nothing

    address = EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    email_confirmed.send(sender=EmailAddress, request=None, email_address=address)
    email_confirmed.send(sender=EmailAddress, request=None, email_address=address)

    assert balance(first) == 100 * MICRO
    assert balance(second) == 0
    bonus = LedgerEntry.objects.get(kind=EntryKind.SIGNUP_BONUS)
    assert bonus.reference == f"signup-bonus:user:{user.pk}"
    third = WorkspaceFactory(owner=user, name="Third")
    signup_bonus_grant(user)
    assert balance(third) == 0


def test_staff_adjustment_goes_through_the_ledger(workspace, client):
    staff = UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)
    client.force_login(staff)
    response = client.post("/admin/billing/ledgerentry/add/", {
        "workspace": workspace.pk, "credits": "-2.5", "memo": "Goodwill correction",
    })
    assert response.status_code == 302
    entry = LedgerEntry.objects.get(kind=EntryKind.ADJUSTMENT)
    assert (entry.amount_micro, entry.created_by, entry.memo) == (-2_500_000, staff, "Goodwill correction")
    assert balance(workspace) == -2_500_000
    page = client.get(f"/admin/billing/ledgerentry/{entry.pk}/change/")
    assert page.status_code == 200 and b"Save" not in page.content  # read-only view
