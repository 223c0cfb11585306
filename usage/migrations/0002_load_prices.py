"""Every price table of the seeds (docs/design.md "Prices"), as data staff can edit in the admin.

Seed 000: credits per page / image / started 5-minute segment by tier, the grounding add-on,
custom fine-tuned models and enterprise applications. Seed 004: meter price × inference
seconds by instance size, one table for language models and one for all other models
(USD per second there; here credits per second = USD × 100, exact). Seeds 002/003: per-model
prices and the GPU-seconds fallback; their rates are examples (is_example) that staff
replace with real ones.
"""

from datetime import datetime, timezone
from decimal import Decimal

from django.db import migrations

# All seed prices are in force from the start of the catalog.
SINCE = datetime(2025, 1, 1, tzinfo=timezone.utc)

INSTANCES = [
    # key, label, GPU RAM (GB), LLM USD/s, other models USD/s (seed 004)
    ("micro", "Micro", 16, "0.0000872083", "0.00053440"),
    ("xs", "XS", 24, "0.0001475035", "0.00066800"),
    ("sm", "SM", 64, "0.0006478333", "0.00427520"),
    ("md", "MD", 96, "0.0008433876", "0.00480960"),
    ("lg", "LG", 128, "0.0012956667", "0.00855040"),
    ("xl", "XL", 192, "0.0024468774", "0.01603200"),
    ("xxl", "XXL", 320, "0.0047912685", "0.02458240"),
    ("super", "Super", 640, "0.0059890856", "0.02992640"),
]

# Example GPU-second rates for the fallback, credits per second (examples, not a quote).
MACHINES = [
    ("t4", "NVIDIA T4", 16, "0.0225"),
    ("l40s", "NVIDIA L40S", 48, "0.0975"),
    ("a100-80gb", "NVIDIA A100 80GB", 80, "0.14"),
    ("h100", "NVIDIA H100", 80, "0.1525"),
]

CREDITS_PER_USD = Decimal(100)


def tiered(product, unit, meter, lo, auto, hi, grounding=None, segment=None, order=0, description=""):
    return dict(
        product=product, unit=unit, meter=meter, scheme="tiered",
        price_lo=Decimal(lo), price_auto=Decimal(auto), price_hi=Decimal(hi),
        grounding_price=None if grounding is None else Decimal(grounding),
        segment_seconds=segment, sort_order=order, description=description,
    )


def flat(product, unit, meter, price, order=0, description="", example=False):
    return dict(
        product=product, unit=unit, meter=meter, scheme="flat", price=Decimal(price),
        sort_order=order, description=description, is_example=example,
    )


PRICES = [
    tiered("document.*", "page", "document", 1, 2, 4, grounding=2, order=10,
           description="Documents, per page"),
    tiered("document.markdown", "page", "document.markdown", 1, 4, 6, order=11,
           description="Markdown extraction, per page; no grounding"),
    tiered("image.*", "image", "image", 1, 2, 4, grounding=2, order=12,
           description="Images, per image"),
    tiered("healthcare.*", "page", "healthcare", 1, 2, 4, grounding=2, order=13,
           description="Healthcare documents, per page"),
    tiered("audio.*", "audio_second", "audio", 1, 1, 2, segment=300, order=14,
           description="Audio, per started 5-minute segment"),
    tiered("video.*", "video_second", "video", 10, 10, 20, segment=300, order=15,
           description="Video, per started 5-minute segment"),
    flat("custom.*", "page", "custom", 6, order=20,
         description="Custom fine-tuned models, per page (registered models only)"),
    flat("custom.*", "image", "custom", 6, order=21,
         description="Custom fine-tuned models, per image (registered models only)"),
    flat("enterprise.*", "page", "enterprise", 8, order=22,
         description="Enterprise applications, per page"),
    flat("enterprise.*", "image", "enterprise", 8, order=23,
         description="Enterprise applications, per image"),
    dict(product="llm.*", unit="inference_second", meter="llm", scheme="rates", sort_order=30,
         description="Language models: meter price × inference seconds by instance size"),
    dict(product="dedicated.*", unit="inference_second", meter="dedicated", scheme="rates",
         sort_order=31, description="All other models: meter price × inference seconds by instance size"),
    dict(product="*", unit="gpu_second", meter="gpu", scheme="rates", sort_order=40,
         is_example=True,
         description="Fallback for any model without a price of its own: per GPU-second by machine type"),
    # Per-model prices of seeds 002/003: example models and rates, clearly marked.
    flat("example.image-gen", "image", "example.image-gen", "0.3", order=50, example=True,
         description="Example image model, flat per image"),
    flat("example.image-hires", "megapixel", "example.image-hires", "2.5", order=51, example=True,
         description="Example image model, per megapixel of output"),
    flat("example.video-gen", "generated_video_second", "example.video-gen", "5", order=52,
         example=True, description="Example video model, per second of generated video"),
    flat("example.video-clip", "video", "example.video-clip", "40", order=53, example=True,
         description="Example video model, flat per video"),
    flat("example.speech-to-text", "request", "example.speech-to-text", "0.5", order=54,
         example=True, description="Example audio model, per request"),
    flat("example.chat", "input_token", "example.chat", "0.00002", order=55, example=True,
         description="Example chat model, per input token (USD 0.20 per million)"),
    flat("example.chat", "output_token", "example.chat", "0.00006", order=56, example=True,
         description="Example chat model, per output token (USD 0.60 per million)"),
]


def load(apps, schema_editor):
    Price = apps.get_model("usage", "Price")
    PriceRate = apps.get_model("usage", "PriceRate")
    for fields in PRICES:
        price, _ = Price.objects.update_or_create(
            product=fields["product"], unit=fields["unit"], effective_from=SINCE,
            defaults={k: v for k, v in fields.items() if k not in ("product", "unit")},
        )
        if price.product == "llm.*":
            rows = [(key, label, gb, Decimal(llm) * CREDITS_PER_USD) for key, label, gb, llm, _ in INSTANCES]
        elif price.product == "dedicated.*":
            rows = [(key, label, gb, Decimal(other) * CREDITS_PER_USD) for key, label, gb, _, other in INSTANCES]
        elif price.product == "*":
            rows = [(key, label, gb, Decimal(rate)) for key, label, gb, rate in MACHINES]
        else:
            continue
        for order, (key, label, gb, unit_price) in enumerate(rows):
            PriceRate.objects.update_or_create(
                price=price, key=key,
                defaults=dict(label=label, gpu_ram_gb=gb, unit_price=unit_price, sort_order=order),
            )


def unload(apps, schema_editor):
    Price = apps.get_model("usage", "Price")
    for fields in PRICES:
        Price.objects.filter(product=fields["product"], unit=fields["unit"], effective_from=SINCE).delete()


class Migration(migrations.Migration):
    dependencies = [("usage", "0001_catalog")]
    operations = [migrations.RunPython(load, unload)]
