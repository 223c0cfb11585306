"""Ten minutes of LLM inference here and elsewhere (seed 004's comparison), worked out.

Our figure is a real quote: price_event on the smallest language-model instance, so it moves
with the catalog. The two others are public list prices of other kinds of service, multiplied
out with the same cost_micro every charge uses; only their rates and the workload are typed
in here, never a result.
"""

from dataclasses import dataclass
from decimal import Decimal

from billing.money import USD_PER_CREDIT
from pricing.events import decimal_text, parse_event
from pricing.price_tables import usd_amount
from pricing.quote import cost_micro, price_event

# The workload: 9 minutes of non-stop streaming, then the cluster shuts down after 1 idle
# minute, so our instance bills 10 minutes while a per-token service bills only the 9.
STREAMING_SECONDS = 540
IDLE_SHUTDOWN_SECONDS = 60
BILLED_SECONDS = STREAMING_SECONDS + IDLE_SHUTDOWN_SECONDS
LLM_PRODUCT = "llm.llama-3-8b"
INSTANCE = "micro"

# A CPU-only serverless function with 16 GB of memory, billed per GB-second.
SERVERLESS_GB = 16
SERVERLESS_USD_PER_GB_SECOND = Decimal("0.0000166667")
# GPT-4o streaming at 202 output tokens a second, USD 10.00 per million tokens.
GPT4O_TOKENS_PER_SECOND = 202
GPT4O_USD_PER_MILLION_TOKENS = Decimal("10.00")


@dataclass(frozen=True)
class Alternative:
    service: str
    workings: str  # how the figure comes about, in words
    cost_micro: int  # in micro-credits (1 credit = USD 0.01), like every amount here
    ours: bool = False

    @property
    def usd_text(self) -> str:
        return usd_amount(self.cost_micro)


def credits_per(usd: Decimal) -> Decimal:
    """A USD rate as credits: USD 0.01 is 1 credit."""
    return usd / USD_PER_CREDIT


def inference_comparison() -> list[Alternative]:
    """Seed 004's "cost for 10 minutes", cheapest first as the seed lists it."""
    quote = price_event(parse_event({
        "product": LLM_PRODUCT,
        "quantity": {"inference_seconds": BILLED_SECONDS, "instance": INSTANCE},
    }, gateway=False))
    rate = quote.rows[0].unit_price
    gb_seconds = SERVERLESS_GB * BILLED_SECONDS
    tokens = GPT4O_TOKENS_PER_SECOND * STREAMING_SECONDS
    return [
        Alternative(
            service="Our LLM on a Micro instance",
            workings=f"{BILLED_SECONDS // 60} minutes × 60 seconds × USD {decimal_text(rate * USD_PER_CREDIT)} per second",
            cost_micro=quote.total_micro, ours=True,
        ),
        Alternative(
            service="A CPU-only serverless function (16 GB, no GPU)",
            workings=f"{gb_seconds:,} GB-seconds × USD {SERVERLESS_USD_PER_GB_SECOND} per GB-second",
            cost_micro=cost_micro(gb_seconds, credits_per(SERVERLESS_USD_PER_GB_SECOND)),
        ),
        Alternative(
            service=f"GPT-4o ({tokens:,} tokens at USD {GPT4O_USD_PER_MILLION_TOKENS} per million)",
            workings=(f"{GPT4O_TOKENS_PER_SECOND} tokens a second × {STREAMING_SECONDS} seconds = "
                      f"{tokens:,} tokens × USD {GPT4O_USD_PER_MILLION_TOKENS} / 1,000,000"),
            cost_micro=cost_micro(tokens, credits_per(GPT4O_USD_PER_MILLION_TOKENS) / 1_000_000),
        ),
    ]
