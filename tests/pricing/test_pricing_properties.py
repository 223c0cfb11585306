"""Properties of the pricing engine over many generated events (hypothesis)."""

import math
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pricing.events import INSTANCES, parse_event
from pricing.quote import Quote, QuoteRow, price_event

pytestmark = pytest.mark.django_db

HYPOTHESIS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

whole = st.integers(min_value=0, max_value=10_000)
seconds = st.decimals(min_value=0, max_value=100_000, places=3, allow_nan=False, allow_infinity=False)
tier = st.sampled_from(["lo", "auto", "hi"])

lines = st.one_of(
    st.builds(lambda p, t, g, n: {"product": p, "tier": t, "grounding": g, "quantity": {"pages": n}},
              st.sampled_from(["document.invoice", "healthcare.claim"]), tier, st.booleans(), whole),
    st.builds(lambda t, g, n: {"product": "image.photo", "tier": t, "grounding": g, "quantity": {"images": n}},
              tier, st.booleans(), whole),
    st.builds(lambda t, n: {"product": "document.markdown", "tier": t, "quantity": {"pages": n}}, tier, whole),
    st.builds(lambda p, u, t, s: {"product": p, "tier": t, "quantity": {u: str(s)}},
              st.sampled_from(["audio.call", "video.clip"]), st.sampled_from(["audio_seconds", "video_seconds"]),
              tier, seconds).filter(lambda line: line["product"].split(".")[0] in next(iter(line["quantity"]))),
    st.builds(lambda p, i, s: {"product": p, "quantity": {"inference_seconds": str(s), "instance": i}},
              st.sampled_from(["llm.llama", "dedicated.sdxl"]), st.sampled_from(INSTANCES), seconds),
    st.builds(lambda m, s: {"product": "someone/model", "quantity": {"gpu_seconds": str(s), "machine": m}},
              st.sampled_from(["t4", "l40s", "a100-80gb", "h100"]), seconds),
    st.builds(lambda i, o: {"product": "example.chat", "quantity": {"input_tokens": i, "output_tokens": o}},
              whole, whole),
)


def priced(body):
    return price_event(parse_event(body, gateway=False))


@HYPOTHESIS
@given(parts=st.lists(lines, min_size=1, max_size=6))
def test_a_workflow_costs_exactly_the_sum_of_its_parts(parts):
    workflow = priced({"product": "workflow.x", "lines": parts})
    separately = [priced(part) for part in parts]
    assert workflow.total_micro == sum(q.total_micro for q in separately)
    assert workflow.rows == tuple(row for q in separately for row in q.rows)


@HYPOTHESIS
@given(s=seconds, t=tier)
def test_segments_are_a_ceiling_of_started_5_minute_segments(s, t):
    quote = priced({"product": "audio.call", "tier": t, "quantity": {"audio_seconds": str(s)}})
    (row,) = quote.rows
    assert row.quantity == math.ceil(s / 300)
    assert (row.quantity - 1) * 300 < s <= row.quantity * 300 or s == 0 == row.quantity


@HYPOTHESIS
@given(line=lines, status=st.sampled_from([200, 201, 204, 400, 429, 500, 502]))
def test_no_float_reaches_money(line, status):
    quote = priced({**line, "status_code": status})
    assert isinstance(quote, Quote)
    assert type(quote.total_micro) is int
    for row in quote.rows:
        assert isinstance(row, QuoteRow)
        assert type(row.cost_micro) is int
        assert isinstance(row.quantity, Decimal) and isinstance(row.unit_price, Decimal)
    assert quote.total_micro == (sum(r.cost_micro for r in quote.rows) if status < 400 else 0)


@HYPOTHESIS
@given(line=lines)
def test_each_row_is_its_exact_cost_rounded_once_half_up(line):
    for row in priced(line).rows:
        exact = row.quantity * row.unit_price * 1_000_000
        assert abs(Decimal(row.cost_micro) - exact) <= Decimal("0.5")
        assert row.cost_micro >= 0
