"""Property: what usage charges for an event equals the quote of the same event."""

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from billing.money import format_credits
from tests.usage.metering_helpers import *  # noqa: F401,F403
from tests.usage.metering_helpers import balance_of
from pricing.events import parse_event
from pricing.quote import price_event
from usage.services import usage_record

pytestmark = pytest.mark.django_db

events = st.one_of(
    st.builds(lambda p, t, g, n: {"product": p, "tier": t, "grounding": g, "quantity": {"pages": n}},
              st.sampled_from(["document.invoice", "healthcare.claim"]), st.sampled_from(["lo", "auto", "hi"]),
              st.booleans(), st.integers(1, 500)),
    st.builds(lambda t, s: {"product": "audio.call", "tier": t, "quantity": {"audio_seconds": s}},
              st.sampled_from(["lo", "auto", "hi"]), st.decimals("0.001", "86400", places=3).map(str)),
    st.builds(lambda i, s: {"product": "llm.llama", "quantity": {"inference_seconds": s, "instance": i}},
              st.sampled_from(["micro", "xs", "sm", "md", "lg", "xl", "xxl", "super"]),
              st.decimals("0.001", "36000", places=3).map(str)),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=events, n=st.integers(0, 10**9))
def test_usage_charges_exactly_the_quote(api_key, workspace, body, n):
    key, _ = api_key
    quote = price_event(parse_event(dict(body), gateway=False), workspace=workspace)
    before = balance_of(workspace)
    answer = usage_record({**body, "id": f"prop_{n}_{before}", "key_id": key.public_id}).body
    assert balance_of(workspace) == before - quote.total_micro
    assert answer["charged"] == format_credits(quote.total_micro)
    assert [row["cost"] for row in answer["breakdown"]] == [format_credits(r.cost_micro) for r in quote.rows]
