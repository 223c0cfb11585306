"""The Billing page and invoices list: who sees what, who may change what."""

import pytest

from billing.invoices import LineSpec, invoice_create
from billing.models import BillingAccount, Plan
from billing.selectors import balance_payload
from billing.services import plan_change
from tests.billing.helpers import MICRO, buy, charge

pytestmark = pytest.mark.django_db


def test_owner_sees_balance_plan_movements_and_actions(workspace, owner, client_for):
    buy(workspace, 250, "p1")
    charge(workspace, 12.5, "u1")
    page = client_for(owner).get("/settings/billing/").content.decode()
    assert "237.50" in page and "USD 2.38" in page  # balance in credits and USD, to the cent
    assert "USD 2.375" not in page  # sub-cent dollars belong in a receipt only
    assert "Credit purchase" in page and "−12.50" in page  # movements with kinds
    assert "Starter" in page and "10 requests/min" in page and "Community (Discord)" in page
    assert "Save billing mode" in page
    assert "Upgrade to Pro" in page and "Pay USD 799.00 at checkout" in page  # no card needed first


def test_member_sees_billing_read_only(workspace, member, client_for):
    page = client_for(member).get("/settings/billing/").content.decode()
    assert "Owners and admins change the plan" in page
    assert "Save billing mode" not in page and "billing_mode" not in page
    response = client_for(member).post("/settings/billing/mode/", {"billing_mode": "prepaid"})
    assert response.status_code == 403
    response = client_for(member).post("/settings/billing/plan/", {"plan": "starter"})
    assert response.status_code == 403


def test_a_logged_out_visitor_is_sent_to_log_in(workspace, client):
    assert client.get("/settings/billing/").status_code == 302


def test_empty_states(workspace, owner, client_for):
    c = client_for(owner)
    assert "No credit movements in the last 30 days" in c.get("/settings/billing/").content.decode()
    assert "No invoices yet" in c.get("/settings/billing/invoices/").content.decode()


def test_invoices_list_only_shows_this_workspace(workspace, owner, outsider, client_for):
    mine, _ = invoice_create(workspace=workspace, lines=[LineSpec("Pack", 500)], reference="a")
    theirs, _ = invoice_create(workspace=outsider.memberships.get().workspace, lines=[LineSpec("Pack", 900)], reference="b")
    page = client_for(owner).get("/settings/billing/invoices/").content.decode()
    assert mine.number in page and theirs.number not in page
    assert f"/settings/billing/invoices/{mine.number}.pdf" in page


def test_pay_as_you_go_is_refused_without_a_saved_card(workspace, admin_user, client_for):
    c = client_for(admin_user)
    page = c.post("/settings/billing/mode/", {"billing_mode": "pay_as_you_go"}, follow=True).content.decode()
    assert "Save a card first" in page
    assert BillingAccount.objects.get(workspace=workspace).billing_mode == "prepaid"


def test_upgrade_to_pro_goes_to_checkout_and_enterprise_needs_sales(workspace, owner, client_for):
    c = client_for(owner)
    response = c.post("/settings/billing/plan/", {"plan": "pro"})
    assert response.status_code == 302 and "/billing/sandbox/checkout/cs_" in response["Location"]
    page = c.post("/settings/billing/plan/", {"plan": "enterprise"}, follow=True).content.decode()
    assert "sales team" in page
    assert BillingAccount.objects.get(workspace=workspace).plan.code == "starter"


def test_admin_schedules_and_cancels_a_downgrade(workspace, admin_user, client_for):
    plan_change(workspace=workspace, plan=Plan.objects.get(code="pro"), by_staff=True)
    c = client_for(admin_user)
    page = c.post("/settings/billing/plan/", {"plan": "starter"}, follow=True).content.decode()
    assert "moves to Starter on" in page
    assert BillingAccount.objects.get(workspace=workspace).scheduled_plan.code == "starter"
    page = c.post("/settings/billing/plan/cancel-change/", follow=True).content.decode()
    assert "Cancelled the move to Starter" in page
    assert BillingAccount.objects.get(workspace=workspace).scheduled_plan is None


def test_owner_sets_the_overage_limit_on_pro(workspace, owner, client_for):
    plan_change(workspace=workspace, plan=Plan.objects.get(code="pro"), by_staff=True)
    c = client_for(owner)
    page = c.post("/settings/billing/overage-limit/", {"overage_limit": "2500"}, follow=True).content.decode()
    assert "Overage limit set to 2,500 credits (USD 25.00)" in page
    assert balance_payload(workspace)["overage_limit"] == "2500.000000"
    page = c.post("/settings/billing/overage-limit/", {"overage_limit": "999999999"}, follow=True).content.decode()
    assert "at most" in page
    assert BillingAccount.objects.get(workspace=workspace).overage_limit == 2500


def test_balance_payload_is_the_api_shape(workspace):
    buy(workspace, 95, "p1")
    payload = balance_payload(workspace)
    assert set(payload) == {"workspace", "plan", "billing_mode", "balance", "included_remaining", "overage",
                            "overage_limit", "cycle_start", "cycle_end", "auto_recharge"}
    assert payload["balance"] == "95.000000" and payload["plan"] == "starter"
    assert payload["included_remaining"] == "0.000000" and payload["overage"] == "0.000000"
    assert payload["overage_limit"] is None  # prepaid: no overage applies
    assert payload["cycle_end"].endswith("T00:00:00Z")
    assert payload["auto_recharge"] == {"enabled": False, "threshold": None, "amount": None}


def test_included_remaining_never_exceeds_the_balance(workspace):
    plan_change(workspace=workspace, plan=Plan.objects.get(code="pro"), by_staff=True)
    charge(workspace, 40_000, "u1")
    assert balance_payload(workspace)["included_remaining"] == "60000.000000"
    from billing.ledger import ledger_post
    from billing.models import EntryKind
    ledger_post(workspace=workspace, kind=EntryKind.ADJUSTMENT, amount_micro=-70_000 * MICRO, reference="adj")
    assert balance_payload(workspace)["included_remaining"] == "0.000000"
