"""The /pricing cost estimator: a form's choices in, a formatted breakdown or a refusal out.

It prices through the same parse_event and price_event as the API, so an estimate is what
usage would charge. What differs is the audience: a person filling in a form, not a program.
So the form gets back exactly what was chosen (never a silent default in place of an empty
or odd value), and a refusal is a sentence in the form's words ("Markdown extraction has no
grounding option"), not the API's field names.
"""

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.http import QueryDict

from config.api import ApiError
from pricing.catalog import catalog_current, now
from pricing.events import INSTANCES, MAX_PLACES, MAX_QUANTITY, TIERS, UNITS, WHOLE_UNITS, decimal_text, parse_event
from pricing.models import UNIT_QUANTITY
from pricing.price_tables import credits_amount, quantity_text, usd_amount
from pricing.quote import UnknownProduct, price_event

# The form's first look: one page of an invoice on auto.
DEFAULTS = {
    "product": "document.invoice", "tier": "auto", "grounding": False, "unit": "pages",
    "quantity": "1", "instance": "micro", "machine": "a100-80gb",
}

PRODUCTS = [
    "document.invoice", "document.markdown", "image.receipt", "healthcare.claim", "audio.call",
    "video.clip", "custom.my-model", "enterprise.contracts", "llm.llama-3-8b", "dedicated.sdxl",
    "example.image-gen", "example.chat", "someone/any-model",
]

# A quantity's unit in words, for the form's choices and for sentences ("3 pages").
UNIT_WORDS = {
    "pages": "pages", "images": "images", "videos": "videos", "requests": "requests",
    "input_tokens": "input tokens", "output_tokens": "output tokens",
    "megapixels": "megapixels of output", "audio_seconds": "seconds of audio",
    "video_seconds": "seconds of video", "generated_video_seconds": "seconds of generated video",
    "gpu_seconds": "GPU seconds", "inference_seconds": "inference seconds",
}
# A price's unit (singular, as the catalog keeps it) in words, for a row's unit price.
PRICE_UNIT_WORDS = {
    "page": "page", "image": "image", "megapixel": "megapixel", "video": "video",
    "request": "request", "input_token": "input token", "output_token": "output token",
    "audio_second": "second of audio", "video_second": "second of video",
    "generated_video_second": "second of generated video", "gpu_second": "GPU second",
    "inference_second": "second", "segment": "started 5-minute segment",
}
INSTANCE_LABELS = {"micro": "Micro", "xs": "XS", "sm": "SM", "md": "MD", "lg": "LG", "xl": "XL",
                   "xxl": "XXL", "super": "Super"}

UNIT_CHOICES = [(unit, UNIT_WORDS[unit]) for unit in UNITS]
INSTANCE_CHOICES = [(key, INSTANCE_LABELS[key]) for key in INSTANCES]


@dataclass
class EstimateRow:
    meter: str
    quantity: Decimal
    unit: str  # in words, singular
    unit_price: Decimal  # credits per unit, exact
    cost_micro: int
    example: bool

    @property
    def quantity_text(self) -> str:
        """'1,234 pages', '1 started 5-minute segment', '600 seconds'."""
        if self.quantity == 1:
            return f"1 {self.unit}"
        head, of, tail = self.unit.partition(" of ")
        return f"{quantity_text(self.quantity)} {head}s{of}{tail}"

    @property
    def unit_price_text(self) -> str:
        credits = "credit" if self.unit_price == 1 else "credits"
        return f"{decimal_text(self.unit_price)} {credits} / {self.unit}"

    @property
    def cost_text(self) -> str:
        return credits_amount(self.cost_micro)

    @property
    def usd_text(self) -> str:
        return usd_amount(self.cost_micro)


@dataclass
class Estimate:
    params: dict
    submitted: bool
    refusal: str | None = None
    rows: list = field(default_factory=list)
    total_micro: int = 0
    example: bool = False  # priced (in part) at an example rate: not a quote

    @property
    def total_text(self) -> str:
        return credits_amount(self.total_micro)

    @property
    def total_usd_text(self) -> str:
        return usd_amount(self.total_micro)


def estimate_params(query: QueryDict) -> tuple[dict, bool]:
    """The form's values as sent (so the form shows them again), and whether it was sent.

    A field left out of the query (a first visit, a shared link) gets its default; a field
    sent empty or odd is kept as it is and refused in words.
    """
    submitted = "product" in query
    if not submitted:
        return dict(DEFAULTS), False
    params = {name: query.get(name, DEFAULTS[name]).strip() for name in DEFAULTS if name != "grounding"}
    params["grounding"] = query.get("grounding") in ("on", "true", "1")
    return params, True


def estimate_from_query(query: QueryDict) -> Estimate:
    """The estimator's answer for GET parameters. Nothing is stored or charged."""
    params, submitted = estimate_params(query)
    estimate = Estimate(params=params, submitted=submitted)
    if not submitted:
        return estimate
    estimate.refusal = form_refusal(params)
    if estimate.refusal:
        return estimate
    try:
        quote = price_event(parse_event(event_body(params), gateway=False))
    except ApiError as error:
        estimate.refusal = refusal_in_words(error, params)
        return estimate
    examples = example_price_ids()
    estimate.rows = [
        EstimateRow(meter=row.meter, quantity=row.quantity,
                    unit=PRICE_UNIT_WORDS.get(row.unit, row.unit.replace("_", " ")),
                    unit_price=row.unit_price, cost_micro=row.cost_micro,
                    example=row.price_id in examples)
        for row in quote.rows
    ]
    estimate.total_micro = quote.total_micro
    estimate.example = any(row.example for row in estimate.rows)
    return estimate


def event_body(params: dict) -> dict:
    """The quote route's body for the form: quantity as typed, thousands separators aside."""
    unit = params["unit"]
    quantity = {unit: params["quantity"].replace(",", "")}
    if unit == "inference_seconds":
        quantity["instance"] = params["instance"]
    if unit == "gpu_seconds":
        quantity["machine"] = params["machine"]
    return {"product": params["product"], "tier": params["tier"], "grounding": params["grounding"],
            "quantity": quantity}


def form_refusal(params: dict) -> str | None:
    """What the form itself got wrong, said in the form's words; None if it can be priced."""
    if not params["product"]:
        return "Enter a product, for example document.invoice."
    if params["tier"] not in TIERS:
        return "Choose a tier: lo, auto or hi."
    if params["unit"] not in UNIT_WORDS:
        return "Choose a unit from the list."
    if params["unit"] == "inference_seconds" and params["instance"] not in INSTANCE_LABELS:
        return "Choose an instance size for inference seconds."
    if params["unit"] == "gpu_seconds" and not params["machine"]:
        return "Choose a machine for GPU seconds."
    return quantity_refusal(params["quantity"], params["unit"])


def quantity_refusal(text: str, unit: str) -> str | None:
    words = UNIT_WORDS[unit]
    digits = f"Enter the number of {words} as digits, for example {'12' if unit in WHOLE_UNITS else '12 or 2.5'}."
    if not text:
        return f"Enter how many {words} to price."
    try:
        quantity = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return digits
    if not quantity.is_finite():
        return digits
    if quantity < 0:
        return "A quantity cannot be negative."
    if quantity > MAX_QUANTITY:
        return f"That is more than we price at once: at most {MAX_QUANTITY:,} {words}."
    if unit in WHOLE_UNITS and quantity != quantity.to_integral_value():
        return f"{words.capitalize()} are counted whole: enter a whole number, for example 3."
    return None


def refusal_in_words(error: ApiError, params: dict) -> str:
    """The API's refusal (field names, JSON hints) as a sentence about the form."""
    product = params["product"]
    param = error.param or ""
    if isinstance(error, UnknownProduct):
        return (f"There is no price for {product}. Pick a product from the list, or choose "
                "GPU seconds as the unit to price any other model by its machine.")
    if param == "grounding":
        return f"{product_label(product)} has no grounding option. Untick the grounding add-on."
    if param == "product":
        return f"{product} is not a product name: use letters, digits, dots and dashes, like document.invoice."
    if param == "quantity.machine":
        return "Choose a machine for GPU seconds from the list."
    if param == "quantity.instance":
        return "Choose an instance size for inference seconds from the list."
    if param.startswith("quantity.") and "no price of its own" in error.message:
        return f"{product} has no price of its own: choose GPU seconds and the machine it runs on."
    if param.startswith("quantity.") and "is not priced in" in error.message:
        return (f"{product} is billed in {' or '.join(billed_units(product))}, not in "
                f"{UNIT_WORDS[params['unit']]}: choose that unit.")
    if param.startswith("quantity."):
        return quantity_refusal(params["quantity"], params["unit"]) or (
            f"Enter the number of {UNIT_WORDS[params['unit']]} with at most {MAX_PLACES} decimal places.")
    return "This cannot be priced as chosen. Check the product and the unit."


def product_label(product: str) -> str:
    """What the catalog calls a product's kind ("Markdown extraction"), else the product."""
    matched = catalog_current().match(product, now())
    if matched is None:
        return product
    description = next(iter(matched[1].values())).description
    label = description.split(",")[0].split(":")[0].strip()
    return label or product


def billed_units(product: str) -> list[str]:
    matched = catalog_current().match(product, now())
    units = sorted(UNIT_QUANTITY[unit] for unit in (matched[1] if matched else {}))
    return [UNIT_WORDS.get(unit, unit) for unit in units]


def example_price_ids() -> set[int]:
    return {version.id for version in catalog_current().versions if version.is_example}
