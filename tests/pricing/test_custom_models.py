"""Custom models: registered by owners and admins up to the plan's allowance, used by pricing."""

import pytest

from billing.models import Plan
from pricing.events import parse_event
from pricing.models import CustomModel
from pricing.quote import UnknownProduct, price_event

pytestmark = pytest.mark.django_db
PAGE = "/settings/billing/custom-models/"


def set_plan(workspace, code):
    workspace.billing.plan = Plan.objects.get(code=code)
    workspace.billing.save()


def quote(workspace, product):
    return price_event(parse_event({"product": product, "quantity": {"pages": 1}}, gateway=False),
                       workspace=workspace)


def test_starter_cannot_register_and_is_told_why(client_for, owner, workspace):
    response = client_for(owner).post(PAGE, {"name": "invoices-v2"}, follow=True)
    assert "runs pre-configured models only" in response.content.decode()
    assert not CustomModel.objects.exists()


def test_pro_registers_up_to_5_and_then_gets_a_clear_message(client_for, owner, workspace):
    set_plan(workspace, "pro")
    client = client_for(owner)
    for i in range(5):
        client.post(PAGE, {"name": f"model-{i}"})
    response = client.post(PAGE, {"name": "model-6"}, follow=True)
    assert "allows 5 custom models and all are registered" in response.content.decode()
    assert CustomModel.objects.filter(workspace=workspace).count() == 5
    assert quote(workspace, "custom.model-4").total_micro == 6_000_000
    with pytest.raises(UnknownProduct):
        quote(workspace, "custom.model-6")


def test_enterprise_is_unlimited(client_for, owner, workspace):
    set_plan(workspace, "enterprise")
    for i in range(7):
        client_for(owner).post(PAGE, {"name": f"m{i}"})
    assert CustomModel.objects.filter(workspace=workspace).count() == 7
    assert quote(workspace, "custom.m6").total_micro == 6_000_000


def test_an_admin_registers_and_removes_and_usage_then_is_unknown(client_for, admin_user, workspace):
    set_plan(workspace, "pro")
    client = client_for(admin_user)
    response = client.post(PAGE, {"name": "custom.Receipts"}, follow=True)
    assert "Registered custom.receipts" in response.content.decode()
    model = CustomModel.objects.get(workspace=workspace)
    assert quote(workspace, "custom.receipts").total_micro == 6_000_000
    response = client.post(f"{PAGE}{model.id}/remove/", follow=True)
    assert "Removed custom.receipts" in response.content.decode()
    with pytest.raises(UnknownProduct):
        quote(workspace, "custom.receipts")


def test_a_bad_name_and_a_duplicate_are_refused(client_for, owner, workspace):
    set_plan(workspace, "pro")
    client = client_for(owner)
    assert "Use lower-case letters" in client.post(PAGE, {"name": "no spaces"}, follow=True).content.decode()
    client.post(PAGE, {"name": "a1"})
    assert "already registered" in client.post(PAGE, {"name": "a1"}, follow=True).content.decode()


def test_a_member_sees_the_list_but_cannot_change_it(client_for, member, owner, workspace):
    set_plan(workspace, "pro")
    client_for(owner).post(PAGE, {"name": "kept"})
    model = CustomModel.objects.get()
    client = client_for(member)
    page = client.get(PAGE).content.decode()
    assert "custom.kept" in page and "Register model" not in page and "Remove model" not in page
    client.post(PAGE, {"name": "sneaky"})
    assert client.post(f"{PAGE}{model.id}/remove/").status_code == 403
    assert list(CustomModel.objects.values_list("name", flat=True)) == ["kept"]


def test_another_workspaces_model_is_a_404_and_not_usable(client_for, owner, workspace, outsider):
    from teams.models import Membership

    other = Membership.objects.get(user=outsider).workspace
    set_plan(workspace, "pro")
    client_for(owner).post(PAGE, {"name": "mine"})
    model = CustomModel.objects.get()
    client = client_for(outsider)
    assert client.post(f"{PAGE}{model.id}/remove/").status_code == 404
    assert CustomModel.objects.filter(pk=model.pk).exists()
    set_plan(other, "pro")
    with pytest.raises(UnknownProduct):
        quote(other, "custom.mine")


def test_after_a_downgrade_models_beyond_the_allowance_are_not_usable(client_for, owner, workspace):
    set_plan(workspace, "enterprise")
    for i in range(6):
        client_for(owner).post(PAGE, {"name": f"m{i}"})
    set_plan(workspace, "pro")
    assert quote(workspace, "custom.m4").total_micro == 6_000_000
    with pytest.raises(UnknownProduct):
        quote(workspace, "custom.m5")
    assert "Over plan limit" in client_for(owner).get(PAGE).content.decode()


def test_on_a_plan_without_custom_models_the_page_names_the_plans_that_have_them_and_how_to_upgrade(
        client_for, owner, workspace):
    html = client_for(owner).get(PAGE).content.decode()
    assert "Your Starter plan runs pre-configured models only." in html
    assert "Custom models come with <strong>Pro</strong> (up to 5) and <strong>Enterprise</strong> (any number)." in html
    # The way to upgrade: Pro on the Billing page's plan card, Enterprise through sales.
    assert '<a class="button button-primary" href="/settings/billing/#plan-title">Upgrade to Pro on the Billing page</a>' in html
    assert 'href="/settings/billing/contact-sales/">Contact sales about Enterprise</a>' in html
    assert 'id="plan-title"' in client_for(owner).get("/settings/billing/").content.decode()
    # Not an invitation to do what the plan cannot: no form, no "0 of 0".
    assert 'name="name"' not in html and "0 of 0" not in html


def test_a_member_on_such_a_plan_is_told_whom_to_ask(client_for, member, owner, admin_user, workspace):
    html = client_for(member).get(PAGE).content.decode()
    assert "Custom models come with <strong>Pro</strong>" in html
    assert f'ask <a href="mailto:{owner.email}">{owner.email}</a> or <a href="mailto:{admin_user.email}">{admin_user.email}</a>' in html
    assert "Upgrade to Pro on the Billing page" not in html


def test_the_plans_named_come_from_the_plan_table(client_for, owner, workspace):
    Plan.objects.filter(code="pro").update(custom_models_allowed=3)
    html = client_for(owner).get(PAGE).content.decode()
    assert "<strong>Pro</strong> (up to 3)" in html
    response = client_for(owner).post(PAGE, {"name": "invoices-v2"}, follow=True)
    assert "Custom models come with Pro (up to 3) and Enterprise (any number)." in response.content.decode()
