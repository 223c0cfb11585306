"""The price catalog as data (docs/design.md "Prices"): versioned prices, rates, custom models.

A price is never edited once it is in force: staff schedule a new version with a later
`effective_from`, and every charge keeps the id of the version it used, so a price change
never rewrites history (pricing.quote reads the version in force at the event's time).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from teams.models import Workspace

__all__ = ["Unit", "PriceScheme", "Price", "PriceRate", "CustomModel", "UNIT_QUANTITY"]


class Unit(models.TextChoices):
    PAGE = "page", "page"
    IMAGE = "image", "image"
    MEGAPIXEL = "megapixel", "megapixel of output"
    AUDIO_SECOND = "audio_second", "second of audio"
    VIDEO_SECOND = "video_second", "second of video"
    GENERATED_VIDEO_SECOND = "generated_video_second", "second of generated video"
    VIDEO = "video", "generated video"
    REQUEST = "request", "request"
    INPUT_TOKEN = "input_token", "input token"
    OUTPUT_TOKEN = "output_token", "output token"
    GPU_SECOND = "gpu_second", "GPU second"
    INFERENCE_SECOND = "inference_second", "inference second"


# The `quantity` key of docs/api.md that each unit meters.
UNIT_QUANTITY = {
    Unit.PAGE: "pages",
    Unit.IMAGE: "images",
    Unit.MEGAPIXEL: "megapixels",
    Unit.AUDIO_SECOND: "audio_seconds",
    Unit.VIDEO_SECOND: "video_seconds",
    Unit.GENERATED_VIDEO_SECOND: "generated_video_seconds",
    Unit.VIDEO: "videos",
    Unit.REQUEST: "requests",
    Unit.INPUT_TOKEN: "input_tokens",
    Unit.OUTPUT_TOKEN: "output_tokens",
    Unit.GPU_SECOND: "gpu_seconds",
    Unit.INFERENCE_SECOND: "inference_seconds",
}


class PriceScheme(models.TextChoices):
    FLAT = "flat", "One price per unit"
    TIERED = "tiered", "Tiers lo / auto / hi"
    RATES = "rates", "A rate per instance size or GPU machine type"


def _money_field(**kwargs):
    # Credits per unit, exact: the smallest seed price is 0.00872083 credits per second.
    return models.DecimalField(max_digits=24, decimal_places=12, null=True, blank=True, **kwargs)


class Price(models.Model):
    """One version of the price of a product pattern for one unit."""

    product = models.CharField(
        max_length=120, db_index=True,
        help_text="An exact product (document.markdown), a wildcard (document.*), or * "
        "for the GPU-seconds fallback of any model without a price of its own.",
    )
    unit = models.CharField(max_length=32, choices=Unit.choices)
    meter = models.CharField(
        max_length=60, help_text="The meter named on receipts, e.g. document, llm, gpu."
    )
    scheme = models.CharField(max_length=10, choices=PriceScheme.choices)
    price = _money_field(help_text="Flat: credits per unit (or per segment).")
    price_lo = _money_field(help_text="Tiered: credits per unit on lo.")
    price_auto = _money_field(help_text="Tiered: credits per unit on auto (the default).")
    price_hi = _money_field(help_text="Tiered: credits per unit on hi.")
    grounding_price = _money_field(
        help_text="Credits per unit for the grounding add-on; empty: grounding not allowed."
    )
    segment_seconds = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Bill per started segment of this many seconds (300 for 5 minutes).",
    )
    effective_from = models.DateTimeField(
        default=timezone.now,
        help_text="When this version takes effect; a later one can be scheduled ahead.",
    )
    is_public = models.BooleanField(default=True, help_text="Listed on /pricing and the API.")
    is_example = models.BooleanField(
        default=False, help_text="An example rate (marked as such on /pricing)."
    )
    description = models.CharField(max_length=200, blank=True)
    sort_order = models.PositiveSmallIntegerField(default=100)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "usage_price"  # the table kept its name when the catalog left usage
        ordering = ["sort_order", "product", "unit", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "unit", "effective_from"], name="one_price_version_per_time"
            ),
        ]

    def __str__(self):
        return f"{self.product} per {self.unit} from {self.effective_from:%Y-%m-%d %H:%M}"

    @property
    def rate_kind(self):
        """What a rate is keyed by: an instance size or a GPU machine type (or None)."""
        return {Unit.INFERENCE_SECOND: "instance", Unit.GPU_SECOND: "machine"}.get(self.unit)

    def clean(self):
        product = self.product or ""
        if product != "*" and ("*" in product[:-1] or (product.endswith("*") and not product.endswith(".*"))):
            raise ValidationError({"product": "Use an exact product, a prefix ending in .*, or *."})
        if self.scheme == PriceScheme.FLAT and self.price is None:
            raise ValidationError({"price": "A flat price needs a price."})
        if self.scheme == PriceScheme.TIERED and None in (self.price_lo, self.price_auto, self.price_hi):
            raise ValidationError("A tiered price needs lo, auto and hi.")
        if self.scheme == PriceScheme.RATES and self.rate_kind is None:
            raise ValidationError({"unit": "Rates apply to inference seconds or GPU seconds."})
        if product == "*" and self.unit != Unit.GPU_SECOND:
            raise ValidationError({"product": "* is only for the GPU-seconds fallback."})
        for name in ("price", "price_lo", "price_auto", "price_hi", "grounding_price"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValidationError({name: "A price cannot be negative."})


class PriceRate(models.Model):
    """A rate of a RATES price: credits per second on one instance size or machine type."""

    price = models.ForeignKey(Price, on_delete=models.CASCADE, related_name="rates")
    key = models.SlugField(max_length=40, help_text="micro, xs, … super; or a GPU type (a100-80gb).")
    label = models.CharField(max_length=60, blank=True)
    gpu_ram_gb = models.PositiveIntegerField(null=True, blank=True)
    unit_price = models.DecimalField(max_digits=24, decimal_places=12)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        db_table = "usage_pricerate"
        ordering = ["sort_order", "key"]
        constraints = [
            models.UniqueConstraint(fields=["price", "key"], name="one_rate_per_key"),
        ]

    def __str__(self):
        return f"{self.key}: {self.unit_price}"


class CustomModel(models.Model):
    """A custom fine-tuned model a workspace registered: usage of `custom.<name>`."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="custom_models")
    name = models.CharField(
        max_length=80,
        validators=[RegexValidator(
            r"^[a-z0-9][a-z0-9._-]*$",
            "Use lower-case letters, digits, dots, dashes and underscores.",
        )],
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "usage_custommodel"
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="one_custom_model_per_name"),
        ]

    def __str__(self):
        return self.product

    @property
    def product(self):
        return f"custom.{self.name}"
