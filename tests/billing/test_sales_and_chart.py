"""The Billing page's enterprise enquiry form and its daily consumption chart."""

import pytest
from django.core.cache import cache

from billing.models import SalesRequest
from tests.factories import UserFactory
from tests.usage.metering_helpers import *  # noqa: F401,F403
from tests.usage.metering_helpers import event
from usage.services import usage_record

pytestmark = pytest.mark.django_db

SALES = "/settings/billing/contact-sales/"


def test_owner_sends_an_enquiry_that_staff_get_by_mail_and_in_the_admin(
    workspace, owner, client_for, mailoutbox, django_capture_on_commit_callbacks,
):
    UserFactory(email="sales@meterdesk.test", is_staff=True)
    c = client_for(owner)
    billing_page = c.get("/settings/billing/").content.decode()
    assert f'href="{SALES}"' in billing_page and "mailto:" not in billing_page
    with django_capture_on_commit_callbacks(execute=True):
        page = c.post(SALES, {"company": "Acme Corp", "volume": "2M pages/month",
                              "message": "We need a BAA and in-VPC."}, follow=True).content.decode()
    assert "our sales team will reply to owner@example.com" in page
    request = SalesRequest.objects.get()
    assert (request.workspace, request.company, request.email) == (workspace, "Acme Corp", "owner@example.com")
    [mail] = mailoutbox
    assert mail.to == ["sales@meterdesk.test"] and "Acme Corp" in mail.subject
    assert "We need a BAA and in-VPC." in mail.body and "2M pages/month" in mail.body

    staff = UserFactory(email="staff@meterdesk.test", is_staff=True, is_superuser=True)
    listing = client_for(staff).get("/admin/billing/salesrequest/").content.decode()
    assert "Acme Corp" in listing


def test_an_incomplete_enquiry_says_what_is_missing_and_keeps_nothing(workspace, owner, client_for, mailoutbox):
    page = client_for(owner).post(SALES, {"company": "Acme", "volume": "", "message": ""}).content.decode()
    assert "This field is required." in page
    assert not SalesRequest.objects.exists() and not mailoutbox


def test_a_member_cannot_send_an_enquiry(workspace, member, client_for):
    assert client_for(member).post(SALES, {"company": "x", "volume": "y", "message": "z"}).status_code == 403
    assert not SalesRequest.objects.exists()


def test_billing_page_shows_this_cycles_daily_consumption_chart(workspace, owner, api_key, client_for):
    c = client_for(owner)
    page = c.get("/settings/billing/").content.decode()
    assert "No usage this cycle yet" in page and "plotly.min.js" not in page
    key, _ = api_key
    usage_record(event(key, "req_bill_1", quantity={"pages": 5}))
    cache.clear()  # a minute later: the page's roll-up runs again
    page = c.get("/settings/billing/").content.decode()
    assert 'id="billing-chart-data"' in page and "plotly.min.js" in page
    assert "Credits used per day this cycle" in page
