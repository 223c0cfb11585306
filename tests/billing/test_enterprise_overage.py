"""Enterprise has an overage limit like every plan that may overspend (default 1,000,000
credits): reaching it refuses authorize with 402, the admin refuses terms without one, and
migration 0007 gives existing workspaces one they have not already passed."""

import json
from importlib import import_module

import pytest
from django.apps import apps
from django.forms.models import model_to_dict

from apikeys.services import key_create, service_token_create
from billing.models import BillingAccount, Plan
from billing.services import plan_change
from tests.billing.helpers import balance, charge
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

AUTHORIZE = "/api/v1/gateway/authorize"


def _authorize(client, token, secret):
    return client.post(AUTHORIZE, json.dumps({"api_key": secret}), content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {token}")


def test_an_enterprise_workspace_is_refused_once_its_overage_reaches_1_000_000_credits(
        client, workspace, owner, committed):
    staff = UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)
    plan_change(workspace=workspace, plan=Plan.objects.get(code="enterprise"), actor=staff, by_staff=True)
    _key, secret = key_create(workspace=workspace, user=owner, name="CI")
    _token, token = service_token_create(name="gateway")
    with committed():  # the spend caches hear of each charge when it commits
        charge(workspace, 999_999 + balance(workspace) / 1_000_000, "usage-1")
    assert balance(workspace) == -999_999 * 1_000_000
    assert _authorize(client, token, secret).status_code == 200
    with committed():
        charge(workspace, 1, "usage-2")
    response = _authorize(client, token, secret)
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "spend_limit_reached"


def _form_data(obj, **changes):
    data = {name: ("" if value is None else value) for name, value in model_to_dict(obj).items()}
    data.update(changes)
    return {name: value for name, value in data.items() if value is not False}


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(email="staff@example.com", is_staff=True, is_superuser=True))
    return client


def test_the_admin_refuses_a_plan_that_allows_overage_without_a_limit(staff_client):
    enterprise = Plan.objects.get(code="enterprise")
    response = staff_client.post(f"/admin/billing/plan/{enterprise.pk}/change/",
                                 _form_data(enterprise, default_overage_limit=""))
    assert response.status_code == 200  # the form again, with the error
    assert "needs an overage limit" in response.content.decode()
    enterprise.refresh_from_db()
    assert enterprise.default_overage_limit == 1_000_000


def test_the_admin_refuses_enterprise_terms_with_no_limit_where_the_plan_has_none(staff_client, workspace):
    Plan.objects.filter(code="enterprise").update(default_overage_limit=None)  # a row older than 0007
    account = BillingAccount.objects.get(workspace=workspace)
    account.plan = Plan.objects.get(code="enterprise")
    account.save()
    response = staff_client.post(f"/admin/billing/billingaccount/{account.pk}/change/",
                                 _form_data(account, overage_limit="", custom_fee_cents=250_000))
    assert "needs an overage limit" in response.content.decode()
    account.refresh_from_db()
    assert account.custom_fee_cents is None  # nothing was saved


def test_the_migration_sets_a_limit_never_below_twice_the_current_overage(workspace, owner, outsider):
    from tests.factories import WorkspaceFactory

    deep = WorkspaceFactory(owner=owner, name="Deep")
    enterprise = Plan.objects.get(code="enterprise")
    Plan.objects.filter(pk=enterprise.pk).update(default_overage_limit=None)  # as before 0007
    BillingAccount.objects.filter(workspace__in=[workspace, deep]).update(plan=enterprise, overage_limit=None)
    charge(workspace, 10, "usage-small")
    charge(deep, 800_000.5, "usage-deep")
    migration = import_module("billing.migrations.0007_enterprise_overage_limit")
    migration.limits_set(apps, None)
    assert Plan.objects.get(code="enterprise").default_overage_limit == 1_000_000
    assert BillingAccount.objects.get(workspace=workspace).overage_limit == 1_000_000
    assert BillingAccount.objects.get(workspace=deep).overage_limit == 2 * 800_001
    starter = BillingAccount.objects.get(workspace=outsider.memberships.get().workspace)
    assert starter.overage_limit is None  # prepaid plans get no overage
