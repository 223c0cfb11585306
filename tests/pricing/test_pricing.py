"""The pricing engine against every example of the seeds, with the seeds' own numbers."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.money import format_usd
from config.api import InvalidRequest
from pricing.events import parse_event
from pricing.models import Price, PriceRate
from pricing.quote import UnknownProduct, price_event, quote_payload

pytestmark = pytest.mark.django_db


def quote(**body):
    body.setdefault("quantity", {"pages": 1})
    return price_event(parse_event(body, gateway=False))


def credits(q):
    return Decimal(q.total_micro) / 1_000_000


# --- Seed 000: credits per page / image / segment, tiers, grounding -----------------------

@pytest.mark.parametrize(
    "product, unit, lo, auto, hi",
    [
        ("document.invoice", "pages", 1, 2, 4),
        ("document.markdown", "pages", 1, 4, 6),
        ("image.receipt", "images", 1, 2, 4),
        ("healthcare.claim", "pages", 1, 2, 4),
    ],
)
def test_it_prices_each_tier_per_page_or_image(product, unit, lo, auto, hi):
    for tier, expected in (("lo", lo), ("auto", auto), ("hi", hi)):
        assert credits(quote(product=product, tier=tier, quantity={unit: 1})) == expected
    assert credits(quote(product=product, quantity={unit: 3})) == 3 * auto  # omitted tier = auto


def test_hi_with_grounding_on_a_document_page_is_6_credits_and_6_cents():
    q = quote(product="document.invoice", tier="hi", grounding=True, quantity={"pages": 1})
    assert q.total_micro == 6_000_000
    assert format_usd(q.total_micro) == "0.060000"
    assert [(r.meter, r.unit_price) for r in q.rows] == [("document:hi", 4), ("document:grounding", 2)]


def test_grounding_adds_2_per_image_and_healthcare_page():
    assert credits(quote(product="image.x", tier="lo", grounding=True, quantity={"images": 5})) == 15
    assert credits(quote(product="healthcare.x", grounding=True, quantity={"pages": 2})) == 8


def test_document_markdown_refuses_grounding_with_a_clear_error():
    with pytest.raises(InvalidRequest) as caught:
        quote(product="document.markdown", grounding=True)
    assert caught.value.param == "grounding"
    assert "document.markdown does not support the grounding add-on" in caught.value.message


@pytest.mark.parametrize("product, unit", [("audio.call", "audio_seconds"), ("video.clip", "video_seconds")])
def test_media_refuses_grounding(product, unit):
    with pytest.raises(InvalidRequest) as caught:
        quote(product=product, grounding=True, quantity={unit: 60})
    assert caught.value.param == "grounding"


def test_a_12_minute_audio_file_on_auto_is_3_segments_and_3_credits():
    q = quote(product="audio.transcribe", quantity={"audio_seconds": 720})
    (row,) = q.rows
    assert (row.unit, row.quantity, row.unit_price) == ("segment", 3, 1)
    assert q.total_micro == 3_000_000


@pytest.mark.parametrize(
    "seconds, segments", [("0.5", 1), (300, 1), ("300.000001", 2), (600, 2), (601, 3), (0, 0)]
)
def test_segments_are_started_5_minute_segments(seconds, segments):
    q = quote(product="audio.x", tier="hi", quantity={"audio_seconds": seconds})
    assert q.rows[0].quantity == segments
    assert q.total_micro == segments * 2 * 1_000_000


def test_video_hi_is_20_credits_per_segment_and_lo_auto_10():
    assert credits(quote(product="video.scene", tier="hi", quantity={"video_seconds": 720})) == 60
    assert credits(quote(product="video.scene", tier="lo", quantity={"video_seconds": 720})) == 30
    assert credits(quote(product="video.scene", quantity={"video_seconds": 1})) == 10


def test_custom_models_are_6_and_enterprise_applications_8_per_page_or_image():
    assert credits(quote(product="custom.my-model", quantity={"pages": 2})) == 12
    assert credits(quote(product="custom.my-model", quantity={"images": 1})) == 6
    assert credits(quote(product="enterprise.contracts", quantity={"pages": 2})) == 16
    assert credits(quote(product="enterprise.contracts", quantity={"images": 1})) == 8


def test_a_product_without_tiers_ignores_the_tier():
    assert credits(quote(product="enterprise.contracts", tier="hi")) == 8


# --- Seed 004: meter price × inference seconds by instance size ---------------------------

def test_9_minutes_streaming_on_micro_llm_billed_until_the_idle_shutdown_is_5_cents():
    # 9 minutes of streaming + the 1-minute idle shutdown = 600 billable seconds.
    q = quote(product="llm.llama-3-8b", quantity={"inference_seconds": 600, "instance": "micro"},
              queue_seconds="12")
    (row,) = q.rows
    assert row.unit_price == Decimal("0.00872083")
    assert row.meter == "llm:micro"
    assert q.total_micro == 5_232_498  # 600 × 0.00872083 credits, exact
    assert format_usd(q.total_micro, places=2) == "0.05"


@pytest.mark.parametrize(
    "product, instance, per_second, micro_for_10s",
    [
        ("llm.x", "super", "0.59890856", 5_989_086),  # 5,989,085.6 rounded half up
        ("llm.x", "xs", "0.01475035", 147_504),  # 147,503.5 rounded half up
        ("dedicated.whisper", "micro", "0.05344", 534_400),
        ("dedicated.whisper", "super", "2.99264", 29_926_400),
    ],
)
def test_llm_and_other_models_have_separate_meters(product, instance, per_second, micro_for_10s):
    q = quote(product=product, quantity={"inference_seconds": 10, "instance": instance})
    assert q.rows[0].unit_price == Decimal(per_second)
    assert q.total_micro == micro_for_10s


def test_queue_time_is_never_billed():
    with_queue = quote(product="llm.x", quantity={"inference_seconds": 60, "instance": "md"},
                       queue_seconds="300")
    without = quote(product="llm.x", quantity={"inference_seconds": 60, "instance": "md"})
    assert with_queue.total_micro == without.total_micro
    assert all(row.unit == "inference_second" for row in with_queue.rows)


# --- Seeds 002/003: per-model prices and the GPU-seconds fallback --------------------------

def test_example_per_model_prices():
    assert credits(quote(product="example.image-gen", quantity={"images": 4})) == Decimal("1.2")
    assert credits(quote(product="example.image-hires", quantity={"megapixels": "2.5"})) == Decimal("6.25")
    assert credits(quote(product="example.video-gen", quantity={"generated_video_seconds": 6})) == 30
    assert credits(quote(product="example.video-clip", quantity={"videos": 1})) == 40
    assert credits(quote(product="example.speech-to-text", quantity={"requests": 3})) == Decimal("1.5")
    q = quote(product="example.chat", quantity={"input_tokens": 1000, "output_tokens": 500})
    assert [(r.unit, r.cost_micro) for r in q.rows] == [("input_token", 20_000), ("output_token", 30_000)]
    assert q.total_micro == 50_000


def test_a_model_without_a_price_falls_back_to_gpu_seconds_by_machine():
    q = quote(product="someone/cogvideo-5b", quantity={"gpu_seconds": "12.5", "machine": "A100-80GB"})
    (row,) = q.rows
    assert (row.meter, row.unit, row.unit_price) == ("gpu:a100-80gb", "gpu_second", Decimal("0.14"))
    assert q.total_micro == 1_750_000


def test_an_unknown_machine_names_the_param():
    with pytest.raises(InvalidRequest) as caught:
        quote(product="someone/model", quantity={"gpu_seconds": 1, "machine": "abacus"})
    assert caught.value.param == "quantity.machine"


def test_no_price_and_no_gpu_seconds_is_unknown_product():
    with pytest.raises(UnknownProduct) as caught:
        quote(product="someone/model", quantity={"pages": 1})
    assert caught.value.status == 404 and caught.value.code == "unknown_product"


def test_a_unit_the_price_does_not_use_is_refused_naming_it():
    with pytest.raises(InvalidRequest) as caught:
        quote(product="document.invoice", quantity={"images": 1})
    assert caught.value.param == "quantity.images"
    assert "pages" in caught.value.message


# --- Workflows, errors, rounding --------------------------------------------------------------

def test_a_workflow_costs_the_sum_of_its_parts():
    q = price_event(parse_event({
        "product": "workflow.onboarding",
        "lines": [
            {"product": "document.id-card", "tier": "hi", "grounding": True, "quantity": {"pages": 2}},
            {"product": "audio.call", "quantity": {"audio_seconds": 720}},
            {"product": "llm.summarise", "quantity": {"inference_seconds": 600, "instance": "micro"}},
        ],
    }, gateway=False))
    assert q.total_micro == 12_000_000 + 3_000_000 + 5_232_498
    assert [r.product for r in q.rows] == ["document.id-card"] * 2 + ["audio.call", "llm.summarise"]


def test_grounding_refused_in_a_workflow_line_names_the_line():
    with pytest.raises(InvalidRequest) as caught:
        price_event(parse_event({"product": "wf", "lines": [
            {"product": "document.a", "quantity": {"pages": 1}},
            {"product": "document.markdown", "grounding": True, "quantity": {"pages": 1}},
        ]}, gateway=False))
    assert caught.value.param == "lines[1].grounding"


@pytest.mark.parametrize("status, reason", [(400, "client_error"), (404, "client_error"),
                                            (500, "server_error"), (503, "server_error")])
def test_failed_requests_are_not_billed(status, reason):
    q = quote(product="document.x", tier="hi", status_code=status)
    assert (q.billed, q.total_micro, q.not_billed_reason) == (False, 0, reason)
    assert sum(row.cost_micro for row in q.rows) == 4_000_000  # the rows still say what it would have cost
    assert quote_payload(q)["total"] == "0.000000"


def test_a_failed_request_for_an_unknown_product_is_recorded_unbilled_not_refused():
    q = quote(product="nope", status_code=404)
    assert (q.billed, q.rows, q.total_micro) == (False, (), 0)


def test_each_row_is_rounded_once_half_up_and_the_total_is_their_sum():
    # 1 input token at 0.00002 credits = 20 micro; 0.0000005 credits would be half a micro.
    Price.objects.create(product="example.tiny", unit="request", meter="tiny", scheme="flat",
                         price=Decimal("0.0000005"), effective_from=timezone.now() - timedelta(days=1))
    assert quote(product="example.tiny", quantity={"requests": 1}).total_micro == 1  # half up
    q = price_event(parse_event({"product": "wf", "lines": [
        {"product": "example.tiny", "quantity": {"requests": 1}},
        {"product": "example.tiny", "quantity": {"requests": 1}},
    ]}, gateway=False))
    assert q.total_micro == 2  # not round(0.5 + 0.5) == 1: rows are rounded, then summed


# --- Matching and versions ----------------------------------------------------------------------

def test_the_most_specific_match_wins():
    since = timezone.now() - timedelta(days=1)
    Price.objects.create(product="document.invoice.*", unit="page", meter="invoices", scheme="flat",
                         price=Decimal("3"), effective_from=since)
    assert credits(quote(product="document.invoice.eu")) == 3  # longer prefix beats document.*
    assert credits(quote(product="document.invoice")) == 2  # "document.invoice.*" needs a suffix
    assert credits(quote(product="document.markdown")) == 4  # exact beats document.*


def test_a_wildcard_matches_any_product_of_its_domain_but_not_the_bare_domain():
    assert credits(quote(product="image.anything-at-all", quantity={"images": 1})) == 2
    with pytest.raises(UnknownProduct):
        quote(product="document", quantity={"pages": 1})
    with pytest.raises(UnknownProduct):
        quote(product="documents.invoice", quantity={"pages": 1})


def test_a_scheduled_price_takes_effect_later_and_old_charges_keep_their_version():
    now = timezone.now()
    event = parse_event({"product": "document.invoice", "quantity": {"pages": 1}}, gateway=False)
    before = price_event(event, at=now)
    current = Price.objects.get(product="document.*", unit="page")
    scheduled = Price.objects.create(
        product="document.*", unit="page", meter="document", scheme="tiered",
        price_lo=Decimal(1), price_auto=Decimal("2.5"), price_hi=Decimal(5), grounding_price=Decimal(2),
        effective_from=now + timedelta(days=30),
    )
    assert price_event(event, at=now).rows[0].price_id == current.id
    later = price_event(event, at=now + timedelta(days=31))
    assert (later.total_micro, later.rows[0].price_id) == (2_500_000, scheduled.id)
    # The earlier quote still names the version it used, and that version is unchanged.
    assert before.rows[0].price_id == current.id
    current.refresh_from_db()
    assert current.price_auto == 2


def test_an_occurred_at_in_the_future_does_not_reach_a_scheduled_price():
    now = timezone.now()
    Price.objects.create(product="document.*", unit="page", meter="document", scheme="tiered",
                         price_lo=1, price_auto=100, price_hi=100, effective_from=now + timedelta(days=1))
    q = quote(product="document.x", occurred_at=(now + timedelta(days=2)).isoformat())
    assert q.total_micro == 2_000_000


def test_an_edited_price_is_seen_by_the_next_quote():
    rate = PriceRate.objects.get(price__product="llm.*", key="micro")
    assert quote(product="llm.x", quantity={"inference_seconds": 1, "instance": "micro"}).total_micro == 8721
    Price.objects.create(product="llm.*", unit="inference_second", meter="llm", scheme="rates",
                         effective_from=timezone.now() - timedelta(seconds=1))
    new = Price.objects.filter(product="llm.*").latest("effective_from")
    PriceRate.objects.create(price=new, key="micro", unit_price=Decimal("0.01"))
    q = quote(product="llm.x", quantity={"inference_seconds": 1, "instance": "micro"})
    assert (q.total_micro, q.rows[0].price_id) == (10_000, new.id)
    assert rate.price_id != new.id
