"""Alerts by e-mail: low balance once per crossing, zero, re-arming, auto-recharge, overage at
80% and 100% once per cycle, each person's opt-out, the Billing page's threshold, the admin."""

import pytest
from django.core import mail

from billing.alerts import alerts_check, default_threshold_micro
from billing.ledger import credits_charge
from billing.models import Alert, AlertKind, AlertOptOut, AlertSend, BillingAccount, BillingMode
from billing.money import MICRO
from tests.billing.helpers import buy, charge, start_on, utc
from tests.billing.test_auto_recharge import card_on_file, turn_on
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def spend(workspace, credits, reference):
    credits_charge(workspace=workspace, amount_micro=credits * MICRO, reference=reference)


def subjects():
    return [message.subject for message in mail.outbox]


@pytest.fixture
def funded(workspace, admin_user, member, committed):
    """Acme with 1,000 credits, an owner, an admin and a member; first cycle: threshold 100."""
    with committed():
        buy(workspace, 1_000, "p1")
    mail.outbox.clear()
    return workspace


def test_crossing_the_threshold_mails_owners_and_admins_once(funded, committed):
    with committed():
        spend(funded, 850, "u1")  # 150 left: above the first cycle's 100
    assert mail.outbox == []
    with committed():
        spend(funded, 60, "u2")  # 90: below
    with committed():
        spend(funded, 10, "u3")  # still below: no second e-mail
        spend(funded, 10, "u4")
    assert subjects() == ["[Meterdesk] The balance of Acme is low"] * 2
    assert sorted(m.to[0] for m in mail.outbox) == ["admin@example.com", "owner@example.com"]
    body = mail.outbox[0].body
    assert "90.00 credits, below your alert threshold of 100.00" in body
    assert "/settings/billing/#buy-credits" in body
    alert = Alert.objects.get()
    assert alert.kind == AlertKind.LOW_BALANCE and alert.sends.count() == 2


def test_a_prepaid_balance_at_zero_sends_a_second_mail_with_a_link_to_buy(funded, committed):
    with committed():
        spend(funded, 950, "u1")
    with committed():
        spend(funded, 50, "u2")  # exactly zero
    assert subjects()[-1] == "[Meterdesk] Acme is out of credits"
    assert "402 out_of_credits" in mail.outbox[-1].body
    assert "/settings/billing/#buy-credits" in mail.outbox[-1].body
    assert len(mail.outbox) == 4  # low and zero, to owner and admin
    with committed():
        spend(funded, 5, "u3")  # below zero: nothing more
    assert len(mail.outbox) == 4


def test_buying_above_the_threshold_rearms_the_alert(funded, committed):
    with committed():
        spend(funded, 950, "u1")
    with committed():
        buy(funded, 40, "p2")  # 90: still below, not re-armed
        spend(funded, 1, "u2")
    assert len(mail.outbox) == 2
    with committed():
        buy(funded, 500, "p3")  # 589: above
    with committed():
        spend(funded, 500, "u3")  # 89: a new crossing
    assert subjects() == ["[Meterdesk] The balance of Acme is low"] * 4
    assert Alert.objects.filter(kind=AlertKind.LOW_BALANCE).count() == 2


def test_no_low_balance_mail_while_auto_recharge_is_on_and_healthy(funded, owner, committed):
    card_on_file(funded)
    turn_on(funded, owner, threshold=50, amount=5_000)
    from billing import payments
    from tests.billing.test_auto_recharge import StripeIntents

    with payments.transport_use(StripeIntents().transport), committed():
        spend(funded, 960, "u1")  # 40: the recharge adds 5,000
    assert "[Meterdesk] The balance of Acme is low" not in subjects()
    assert not Alert.objects.filter(kind=AlertKind.LOW_BALANCE).exists()


def test_a_declined_recharge_leaves_the_low_balance_mail_to_go_out(funded, owner, committed):
    card_on_file(funded)
    turn_on(funded, owner, threshold=50, amount=5_000)
    from billing import payments
    from tests.billing.test_auto_recharge import StripeIntents

    with payments.transport_use(StripeIntents("declined").transport), committed():
        spend(funded, 960, "u1")
    with committed():
        spend(funded, 1, "u2")  # auto-recharge is off now: the next charge below alerts
    assert "[Meterdesk] The balance of Acme is low" in subjects()


def test_a_person_who_turned_an_alert_off_is_not_mailed(funded, admin_user, committed, client_for):
    response = client_for(admin_user).post("/settings/alerts/", {"kinds": ["zero_balance", "usage_spike"]}, follow=True)
    assert "Alert e-mails saved: 2 of 5 on." in response.content.decode()
    assert AlertOptOut.objects.filter(user=admin_user, kind=AlertKind.LOW_BALANCE).exists()
    with committed():
        spend(funded, 950, "u1")
    assert [m.to for m in mail.outbox] == [["owner@example.com"]]
    page = client_for(admin_user).get("/settings/alerts/").content.decode()
    assert 'value="zero_balance" id="alert-zero_balance" aria-describedby="alert-zero_balance-help" checked' in page
    assert 'value="low_balance" id="alert-low_balance" aria-describedby="alert-low_balance-help">' in page


def test_owners_and_admins_set_the_threshold_on_the_billing_page(funded, admin_user, member, client_for, committed):
    page = client_for(member).get("/settings/billing/").content.decode()
    assert "below <strong>100.00 credits</strong>" in page and 'name="threshold" min="0" max="100000000"' not in page
    assert client_for(member).post("/settings/billing/alerts/", {"threshold": "5000"}).status_code == 403
    client = client_for(admin_user)
    with committed():
        response = client.post("/settings/billing/alerts/", {"threshold": "2000"}, follow=True)
    assert "an e-mail when the balance falls below 2,000 credits" in response.content.decode()
    # 1,000 credits is already below the new threshold: the alert goes out at once.
    assert subjects() == ["[Meterdesk] The balance of Acme is low"] * 2
    assert "below your alert threshold of 2,000.00" in mail.outbox[0].body


def test_the_default_threshold_is_a_tenth_of_the_last_cycles_usage(workspace):
    start_on(workspace, plan="starter", anchor_day=1, start=utc(2026, 1, 1))
    assert default_threshold_micro(workspace.pk, at=utc(2026, 1, 15)) == 100 * MICRO  # first cycle
    buy(workspace, 10_000, "p1", at=utc(2026, 1, 2))
    charge(workspace, 3_000, "u1", at=utc(2026, 1, 10))
    charge(workspace, 1_500, "u2", at=utc(2026, 1, 20))
    from billing.cycles import cycle_open

    cycle_open(account=BillingAccount.objects.get(workspace=workspace), start=utc(2026, 2, 1), end=utc(2026, 3, 1))
    assert default_threshold_micro(workspace.pk, at=utc(2026, 2, 5)) == 450 * MICRO


def test_overage_mails_at_80_and_100_percent_once_each_per_cycle(workspace, committed):
    BillingAccount.objects.filter(workspace=workspace).update(billing_mode=BillingMode.PAY_AS_YOU_GO, overage_limit=1_000)
    with committed():
        spend(workspace, 700, "u1")  # 700 of 1,000: nothing
    overage = [s for s in subjects() if "overage" in s]
    assert overage == []
    with committed():
        spend(workspace, 100, "u2")  # 800: 80%
    with committed():
        spend(workspace, 100, "u3")  # 900: not again
    assert [s for s in subjects() if "overage" in s] == ["[Meterdesk] Acme used 80% of its overage limit"]
    with committed():
        spend(workspace, 150, "u4")  # 1,050: the limit
    with committed():
        spend(workspace, 10, "u5")
    assert [s for s in subjects() if "overage" in s] == [
        "[Meterdesk] Acme used 80% of its overage limit", "[Meterdesk] Acme reached its overage limit"]
    assert "402 spend_limit_reached" in mail.outbox[-1].body
    # Pay-as-you-go is no prepaid balance: no "out of credits" mail at zero.
    assert not Alert.objects.filter(kind=AlertKind.ZERO_BALANCE).exists()


def test_a_check_run_twice_raises_nothing_the_second_time(funded):
    charge(funded, 950, "u1")  # no commit hooks here: the check is called directly
    assert [a.kind for a in alerts_check(funded.pk)] == [AlertKind.LOW_BALANCE]
    assert alerts_check(funded.pk) == []
    assert AlertSend.objects.count() == 2


def test_staff_see_alerts_and_their_sends_in_the_admin(funded, committed, client_for):
    with committed():
        spend(funded, 950, "u1")
    staff = UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)
    client = client_for(staff)
    listing = client.get("/admin/billing/alert/").content.decode()
    assert "The balance of Acme is low" in listing and "owner@example.com" in listing
    alert = Alert.objects.get()
    detail = client.get(f"/admin/billing/alert/{alert.pk}/change/").content.decode()
    assert "admin@example.com" in detail


def test_the_dashboard_warns_below_the_workspaces_own_threshold(funded, owner, client_for):
    from billing.alerts import low_balance_threshold_set

    page = client_for(owner).get("/").content.decode()
    assert "Your balance is low" not in page  # 1,000 credits, threshold 100
    low_balance_threshold_set(workspace=funded, actor=owner, credits=5_000)
    page = client_for(owner).get("/").content.decode()
    assert "below your alert threshold of 5,000 credits" in page


def test_every_process_shares_one_read_of_a_watch(workspace):
    """The usage call's listener compares each balance with the workspace's watch: read from
    the database once for all processes (the cache), not once per process every 30 s."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from billing.alerts import _watches, watch_forget, watch_of

    with CaptureQueriesContext(connection) as first:
        watch = watch_of(workspace.pk)
    assert 0 < len(first) <= 6
    _watches.clear()  # another process: no copy of its own yet
    with CaptureQueriesContext(connection) as other:
        assert watch_of(workspace.pk) == watch
    assert len(other) == 0
    watch_forget(workspace.pk)  # a threshold set, a check done: everyone reads it again
    with CaptureQueriesContext(connection) as again:
        watch_of(workspace.pk)
    assert len(again) == len(first)
