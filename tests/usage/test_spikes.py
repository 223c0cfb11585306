"""Usage spikes: a day over 3× its 7-day average (and over the floor) e-mails owners and
admins once, naming the products and keys that grew; read from the roll-ups."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from apikeys.services import key_create
from billing.models import Alert, AlertKind
from billing.money import MICRO
from tests.factories import UserFactory, WorkspaceFactory
from usage.models import DailyUsage
from usage.spikes import spikes_detect
from usage.tasks import usage_spikes_detect

pytestmark = pytest.mark.django_db

YESTERDAY = timezone.now().date() - timedelta(days=1)


def used(workspace, key, day, credits, product="document.invoice"):
    DailyUsage.objects.create(workspace=workspace, key=key, product=product, day=day, requests=1,
                              billed_requests=1, credits_micro=int(credits * MICRO))


def a_week_of(workspace, key, credits_a_day, product="document.invoice"):
    for days_before in range(1, 8):
        used(workspace, key, YESTERDAY - timedelta(days=days_before), credits_a_day, product)


@pytest.fixture
def keys(workspace, owner, admin_user, member):
    production, _ = key_create(workspace=workspace, user=owner, name="Production")
    batch, _ = key_create(workspace=workspace, user=owner, name="Batch jobs")
    return production, batch


def test_a_day_over_three_times_its_average_mails_owners_and_admins_once(workspace, keys, committed):
    production, batch = keys
    a_week_of(workspace, production, 300)  # 300 a day
    used(workspace, production, YESTERDAY, 300)
    used(workspace, batch, YESTERDAY, 700, product="image.cat")  # 1,000: 3.33×
    with committed():
        raised = spikes_detect()
    assert [alert.kind for alert in raised] == [AlertKind.USAGE_SPIKE]
    assert sorted(m.to[0] for m in mail.outbox) == ["admin@example.com", "owner@example.com"]
    message = mail.outbox[0]
    assert "3.3× the 7-day average" in message.subject
    assert "1,000.00 credits" in message.body and "average of 300.00" in message.body
    assert f"key Batch jobs ({batch.public_id})" in message.body
    assert "product image.cat: 700.00 credits" in message.body
    assert "key Production" not in message.body and "document.invoice" not in message.body  # flat
    with committed():
        assert spikes_detect() == []
    assert len(mail.outbox) == 2  # once that day


def test_under_three_times_the_average_is_no_spike(workspace, keys):
    production, _ = keys
    a_week_of(workspace, production, 400)
    used(workspace, production, YESTERDAY, 1_199)  # 2.99×
    assert spikes_detect() == [] and mail.outbox == []


def test_a_tiny_workspace_under_the_floor_is_left_alone(workspace, keys):
    production, _ = keys
    a_week_of(workspace, production, 10)
    used(workspace, production, YESTERDAY, 999)  # 99×, but under 1,000 credits
    assert spikes_detect() == []


def test_a_first_busy_day_without_history_is_no_spike(workspace, keys):
    production, _ = keys
    used(workspace, production, YESTERDAY, 50_000)
    assert spikes_detect() == []


def test_only_the_spiking_workspace_is_mailed(workspace, keys, committed):
    production, _ = keys
    other_owner = UserFactory(email="calm@example.com")
    calm = WorkspaceFactory(owner=other_owner, name="Calm")
    calm_key, _ = key_create(workspace=calm, user=other_owner, name="Calm key")
    a_week_of(calm, calm_key, 1_000)
    used(calm, calm_key, YESTERDAY, 1_000)
    a_week_of(workspace, production, 300)
    used(workspace, production, YESTERDAY, 5_000)
    with committed():
        spikes_detect()
    assert mail.outbox
    assert "calm@example.com" not in [m.to[0] for m in mail.outbox]
    assert Alert.objects.get().workspace == workspace


def test_the_daily_task_rolls_up_first_and_the_dashboard_shows_the_spike(workspace, keys, client_for, owner):
    production, _ = keys
    a_week_of(workspace, production, 300)
    used(workspace, production, YESTERDAY, 2_000)
    assert usage_spikes_detect() == 1
    page = client_for(owner).get("/").content.decode()
    assert "Usage spike in Acme" in page and "/usage/?range=7&amp;split=key" in page
