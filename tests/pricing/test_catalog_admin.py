"""Staff edit the catalog in the admin without rewriting history."""

import pytest
from django.utils import timezone

from pricing.models import Price

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser(email="staff@example.com", password="x-long-password")
    client.force_login(user)
    return client


def test_a_price_in_force_is_read_only_and_cannot_be_deleted(staff_client):
    price = Price.objects.get(product="document.*")
    page = staff_client.get(f"/admin/pricing/price/{price.id}/change/").content.decode()
    assert 'name="price_auto"' not in page  # shown, not editable
    staff_client.post(f"/admin/pricing/price/{price.id}/delete/", {"post": "yes"})
    assert Price.objects.filter(pk=price.pk).exists()


def test_schedule_a_new_version_copies_prices_and_rates_for_tomorrow(staff_client):
    llm = Price.objects.get(product="llm.*")
    response = staff_client.post("/admin/pricing/price/", {
        "action": "schedule_new_version", "_selected_action": [llm.id]}, follow=True)
    assert "Scheduled 1 new version" in response.content.decode()
    new = Price.objects.filter(product="llm.*").latest("effective_from")
    assert new.effective_from > timezone.now()
    assert new.rates.get(key="micro").unit_price == llm.rates.get(key="micro").unit_price
    page = staff_client.get(f"/admin/pricing/price/{new.id}/change/").content.decode()
    assert 'name="effective_from_0"' in page or 'name="effective_from"' in page  # editable until then
