"""The Usage page shows its values the one way of config/values.py: the request lookup says
when the request happened and when it was charged, to the exact micro-credit."""

from datetime import timedelta

import pytest
from django.utils import timezone

from usage.rollup import rollup_run
from usage.services import usage_record_batch
from tests.usage.metering_helpers import *  # noqa: F401,F403
from tests.usage.metering_helpers import event

pytestmark = pytest.mark.django_db


def _shown(moment):
    return f"{moment.day} {moment:%b %Y}, {moment:%H:%M} UTC"


def test_the_lookup_says_when_the_request_happened_and_when_it_was_charged(client_for, owner, api_key):
    key, _ = api_key
    charged = timezone.now().replace(second=0, microsecond=0)
    happened = charged - timedelta(hours=2, minutes=3)
    usage_record_batch([event(key, "late-1", occurred_at=happened.isoformat())], now=charged)
    page = client_for(owner).get("/usage/?request=late-1").content.decode()
    assert f"Happened</dt><dd><time datetime=\"{happened.isoformat()}\">{_shown(happened)}</time>" in page
    assert f"on <time datetime=\"{charged.isoformat()}\">{_shown(charged)}</time>" in page
    assert "6.000000 credits (USD 0.06)" in page  # 3 pages at 2 credits: the receipt's exact value


def test_the_usage_tables_show_dollars_to_the_cent_and_quantities_in_words(client_for, owner, api_key):
    key, _ = api_key
    usage_record_batch([event(key, f"many-{n}", quantity={"pages": 401}) for n in range(3)])
    rollup_run()
    page = client_for(owner).get("/usage/?range=7").content.decode()
    assert "1,203 pages" in page  # by product: the quantity with its unit in words
    assert "USD 24.06" in page and "$" not in page.split("<main", 1)[1]  # 2,406 credits
    assert "2,406.00" in page
