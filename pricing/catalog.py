"""Reads of the price catalog: which price version is in force for a product, and when.

The whole catalog (a few dozen rows with every version) is held in memory per process, so
pricing an event costs no query. A version stamp in the shared cache (Redis in production)
says when to reload: saving or deleting a price or rate deletes the stamp, so every process
sees a staff edit on its next event. Scheduled versions need no reload: the snapshot holds
every version and the one in force is chosen by time at each call.
"""

import bisect
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from billing.models import BillingAccount
from pricing.events import decimal_text
from pricing.models import CustomModel, Price, PriceRate, PriceScheme
from teams.models import Workspace

log = logging.getLogger(__name__)

VERSION_KEY = "pricing:catalog:version"
FALLBACK_PATTERN = "*"


@dataclass(frozen=True)
class PriceVersion:
    """An immutable copy of one Price row (with its rates), safe to share between threads."""

    id: int
    product: str
    unit: str
    meter: str
    scheme: str
    price: object
    price_lo: object
    price_auto: object
    price_hi: object
    grounding_price: object
    segment_seconds: int | None
    effective_from: datetime
    is_public: bool
    is_example: bool
    description: str
    sort_order: int
    rates: tuple  # ((key, label, gpu_ram_gb, unit_price), ...) in display order

    @property
    def tiered(self):
        return self.scheme == PriceScheme.TIERED

    @property
    def rate_map(self):
        return {key: unit_price for key, _, _, unit_price in self.rates}

    @property
    def rate_kind(self):
        return {"inference_second": "instance", "gpu_second": "machine"}.get(self.unit)

    def tier_price(self, tier):
        return {"lo": self.price_lo, "auto": self.price_auto, "hi": self.price_hi}[tier]


def pattern_matches(pattern: str, product: str) -> bool:
    if pattern == FALLBACK_PATTERN:
        return True
    if pattern.endswith(".*"):
        return product.startswith(pattern[:-1]) and len(product) > len(pattern) - 1
    return pattern == product


def pattern_specificity(pattern: str) -> int:
    """Higher wins: an exact product, then the longest prefix, then the fallback `*`."""
    if pattern == FALLBACK_PATTERN:
        return -1
    if pattern.endswith(".*"):
        return len(pattern) - 1
    return 10_000


class Catalog:
    """Every version of every price, grouped by (product pattern, unit)."""

    def __init__(self, versions):
        self.versions = tuple(versions)
        self._series = {}
        for version in sorted(self.versions, key=lambda v: v.effective_from):
            self._series.setdefault((version.product, version.unit), []).append(version)
        self._moments = sorted({version.effective_from for version in self.versions})
        # Quotes already worked out with this catalog (pricing.quote): a new catalog, made
        # whenever a price changes, starts with none.
        self.quotes = {}

    def era(self, at):
        """Which versions are in force at `at`, as a number: two moments with the same era
        see exactly the same prices (no version takes effect between them)."""
        return bisect.bisect_right(self._moments, at)

    def in_force(self, product_pattern, unit, at):
        current = None
        for version in self._series.get((product_pattern, unit), ()):
            if version.effective_from <= at:
                current = version
        return current

    def match(self, product, at):
        """(pattern, {unit: PriceVersion}) of the most specific pattern in force, else None.

        The fallback `*` is left out: pricing.quote applies it only to gpu_seconds.
        """
        best = None
        for pattern, unit in self._series:
            if pattern == FALLBACK_PATTERN or not pattern_matches(pattern, product):
                continue
            if self.in_force(pattern, unit, at) is None:
                continue
            if best is None or pattern_specificity(pattern) > pattern_specificity(best):
                best = pattern
        if best is None:
            return None
        prices = {}
        for pattern, unit in self._series:
            if pattern == best:
                version = self.in_force(pattern, unit, at)
                if version is not None:
                    prices[unit] = version
        return best, prices

    def fallback(self, at):
        return self.in_force(FALLBACK_PATTERN, "gpu_second", at)

    def public_listing(self, at):
        """Public prices in force at `at`, each followed by its scheduled later versions."""
        listed = []
        for (pattern, unit), series in self._series.items():
            current = self.in_force(pattern, unit, at)
            later = [v for v in series if v.effective_from > at]
            for version in ([current] if current else []) + later:
                if version.is_public:
                    listed.append(version)
        return sorted(listed, key=lambda v: (v.sort_order, v.product, v.unit, v.effective_from))


_lock = threading.Lock()
_loaded = {"stamp": None, "catalog": None, "checked": 0.0}
# How long a process trusts its catalog before asking the shared cache again. Edits made
# in this process are seen at once (catalog_changed); other processes see them within this.
STAMP_CHECK_SECONDS = 1.0


def catalog_load() -> Catalog:
    """A fresh Catalog from the database (two queries)."""
    versions = []
    prices = Price.objects.prefetch_related("rates").order_by("id")
    for price in prices:
        versions.append(
            PriceVersion(
                id=price.id, product=price.product, unit=price.unit, meter=price.meter,
                scheme=price.scheme, price=price.price, price_lo=price.price_lo,
                price_auto=price.price_auto, price_hi=price.price_hi,
                grounding_price=price.grounding_price, segment_seconds=price.segment_seconds,
                effective_from=price.effective_from, is_public=price.is_public,
                is_example=price.is_example, description=price.description,
                sort_order=price.sort_order,
                rates=tuple(
                    (r.key, r.label, r.gpu_ram_gb, r.unit_price)
                    for r in sorted(price.rates.all(), key=lambda r: (r.sort_order, r.key))
                ),
            )
        )
    return Catalog(versions)


def catalog_current() -> Catalog:
    """The catalog, from memory unless a price changed since it was loaded."""
    if _loaded["stamp"] is not None and time.monotonic() - _loaded["checked"] < STAMP_CHECK_SECONDS:
        return _loaded["catalog"]
    try:
        stamp = cache.get(VERSION_KEY)
        if stamp is None:
            cache.add(VERSION_KEY, uuid.uuid4().hex, None)
            stamp = cache.get(VERSION_KEY)
    except Exception:  # the cache is down: correct but slower, never a wrong price
        log.warning("price catalog: cache unavailable, reading prices from the database")
        return catalog_load()
    if stamp is not None and _loaded["stamp"] == stamp:
        _loaded["checked"] = time.monotonic()
        return _loaded["catalog"]
    with _lock:
        catalog = catalog_load()
        _loaded["stamp"], _loaded["catalog"] = stamp, catalog
        _loaded["checked"] = time.monotonic()
    return catalog


def catalog_forget_local() -> None:
    """Drop this process's copy; the next price asks the database (tests, after a flush)."""
    _loaded["stamp"] = None


def catalog_changed() -> None:
    """Tell every process to reload: now (this transaction sees its own edit) and at commit."""
    _forget_everywhere()
    transaction.on_commit(_forget_everywhere)


def _forget_everywhere():
    _loaded["stamp"] = None
    try:
        cache.delete(VERSION_KEY)
    except Exception:
        log.warning("price catalog: could not clear the version stamp")


@receiver([post_save, post_delete], sender=Price)
@receiver([post_save, post_delete], sender=PriceRate)
def _price_saved(sender, **kwargs):
    catalog_changed()


def custom_models_allowed(workspace: Workspace) -> int | None:
    """How many custom models the workspace's plan allows: an int, or None for unlimited."""
    account = BillingAccount.objects.select_related("plan").filter(workspace=workspace).first()
    if account is None:
        return 0
    return account.plan.custom_models_allowed


def custom_model_usable(workspace: Workspace, name: str) -> bool:
    """Whether `custom.<name>` may be used: registered, and within the plan's allowance.

    Models registered beyond the allowance (say after a downgrade) stay listed but are not
    usable; the earliest registered ones count first.
    """
    allowed = custom_models_allowed(workspace)
    if allowed == 0:
        return False
    names = CustomModel.objects.filter(workspace=workspace).order_by("created_at", "id")
    if allowed is not None:
        names = names[:allowed]
    return name in set(names.values_list("name", flat=True))


def now() -> datetime:
    return timezone.now()


def price_payload(version: PriceVersion) -> dict:
    """One entry of GET /api/v1/prices (docs/api.md): tiers, rates or a plain price, as strings."""
    entry = {
        "product": version.product,
        "unit": version.unit,
        "meter": version.meter,
        "description": version.description,
        "example": version.is_example,
    }
    if version.scheme == PriceScheme.TIERED:
        entry["tiers"] = {t: decimal_text(version.tier_price(t)) for t in ("lo", "auto", "hi")}
    elif version.scheme == PriceScheme.RATES:
        entry["rates_by"] = version.rate_kind
        entry["rates"] = {key: decimal_text(unit_price) for key, _, _, unit_price in version.rates}
    else:
        entry["price"] = decimal_text(version.price)
    entry["addons"] = (
        {"grounding": decimal_text(version.grounding_price)}
        if version.grounding_price is not None else {}
    )
    entry["segment_seconds"] = version.segment_seconds
    entry["effective_from"] = version.effective_from.isoformat().replace("+00:00", "Z")
    return entry


def prices_payload(catalog: Catalog, *, at: datetime) -> dict:
    return {
        "usd_per_credit": "0.01",
        "prices": [price_payload(version) for version in catalog.public_listing(at)],
    }
