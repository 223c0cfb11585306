"""Every call to Stripe goes through this module, the only one that imports `stripe`.

- The API version is pinned (API_VERSION): webhook payloads and answers are read in its shape.
- `STRIPE_API_BASE` points the SDK at a stand-in (localstripe in tests).
- Without `STRIPE_SECRET_KEY` (DEBUG only, settings refuse it in production) the same calls
  are answered by the built-in sandbox (billing/sandbox.py), through the SDK's HTTP seam, so
  the code below runs unchanged in development.
- A Stripe error becomes one PaymentError whose str() is a sentence the user can act on.
- Every call that moves money sends an idempotency key derived from our own record (saved
  before the call), so a retry after a time-out never charges twice: Stripe answers a
  repeated key with the first call's result. The SDK itself retries network failures with
  the same key (max_network_retries).

Functions answer plain dicts (Stripe's JSON), the same shape a webhook delivers, so the
fulfilment code reads one shape whichever way a payment reaches it.
"""

import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field

import stripe
from django.conf import settings

from config.flash import Refusal

log = logging.getLogger("meterdesk.payments")

API_VERSION = "2026-10-28.endive"  # the version stripe==16.1.0 is generated for
WEBHOOK_TOLERANCE_SECONDS = 300
NETWORK_RETRIES = 2


# --- errors --------------------------------------------------------------------------------


class PaymentError(Refusal):
    """A payment that did not happen. str(error) is a sentence for the user.

    `code` is Stripe's (card_declined, authentication_required, …) or ours; `transient` says a
    later retry may succeed (network, Stripe outage, rate limit), so jobs and webhooks retry.
    """

    def __init__(self, message, *, code="", transient=False):
        super().__init__(message)
        self.code = code
        self.transient = transient


class PaymentRejected(Refusal):
    """A payment notice that can never be fulfilled as it stands (unknown workspace, amount or
    currency mismatch); str() is the reason. The webhook keeps such an event `ignored`."""


class WebhookSignatureError(Exception):
    """A webhook whose Stripe-Signature is missing, forged, stale or does not match the body."""


AUTHENTICATION_NEEDED = (
    "Your bank asks you to confirm this payment, which cannot happen while you are away. "
    "Pay once on the Billing page to confirm the card, or save a different card."
)
DECLINE_SENTENCES = {
    "authentication_required": AUTHENTICATION_NEEDED,
    "expired_card": "Your card has expired. Save a new card on the Billing page.",
    "insufficient_funds": "Your card was declined for insufficient funds. Use another card on the Billing page.",
    "incorrect_cvc": "Your card's security code was wrong. Try again or use another card.",
    "processing_error": "Your bank could not process the payment. Try again in a few minutes.",
}
UNREACHABLE = (
    "We could not reach our payment provider, so nothing was charged. Try again in a few minutes."
)


def failure_sentence(code, decline_code=None):
    """The sentence for a card failure (Stripe's `code` / `decline_code`)."""
    key = decline_code if decline_code in DECLINE_SENTENCES else code
    return DECLINE_SENTENCES.get(key) or "Your card was declined. Use another card on the Billing page."


def _payment_error(error):
    """Turn any Stripe error into a PaymentError with a sentence; log what staff need."""
    if isinstance(error, stripe.CardError):
        detail = getattr(error, "error", None)
        decline = getattr(detail, "decline_code", None) or ""
        code = decline if decline in DECLINE_SENTENCES else (error.code or "card_declined")
        return PaymentError(failure_sentence(code), code=code)
    if isinstance(error, (stripe.APIConnectionError, stripe.RateLimitError)) or (
        isinstance(error, stripe.APIError) or (getattr(error, "http_status", None) or 0) >= 500
    ):
        log.warning("Stripe unreachable or failing: %s", error)
        return PaymentError(UNREACHABLE, code="unreachable", transient=True)
    log.error("Stripe refused a request: %r", error)
    if isinstance(error, (stripe.AuthenticationError, stripe.PermissionError)):
        return PaymentError(
            "Payments are not available right now because of a set-up problem on our side; "
            "we have been told. Try again later.", code="configuration",
        )
    return PaymentError(
        "Our payment provider refused this request. Nothing was charged; contact support if it happens again.",
        code=getattr(error, "code", None) or "invalid_request",
    )


# --- the HTTP seam: the sandbox and tests answer Stripe's requests here -------------------------


class TransportTimeout(Exception):
    """Raised by a responder: the request may or may not have been carried out (a time-out)."""


@dataclass
class RecordedCall:
    method: str
    path: str
    idempotency_key: str | None
    body: str


@dataclass
class RecordingTransport:
    """Answers the SDK's requests with `respond(method, url, headers, body) -> (status, json
    text)` and records each one (method, path, Idempotency-Key): tests use it to prove that a
    retry after a time-out carries the same key."""

    respond: object
    calls: list = field(default_factory=list)

    def __call__(self, method, url, headers, body):
        path = url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
        key = {k.lower(): v for k, v in headers.items()}.get("idempotency-key")
        self.calls.append(RecordedCall(method, "/" + path, key, body or ""))
        return self.respond(method, url, headers, body)


class _ResponderClient(stripe.HTTPClient):
    name = "meterdesk-responder"

    def __init__(self, respond):
        super().__init__()
        self._respond = respond

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        try:
            status, body = self._respond(method, url, dict(headers or {}), post_data)
        except TransportTimeout as error:
            raise stripe.APIConnectionError(f"Timed out: {error}", should_retry=True)
        return body, status, {"request-id": "req_local"}

    def request_stream(self, method, url, headers, post_data=None, *, _usage=None):
        raise NotImplementedError("streaming is not used")

    def close(self):
        pass


_responder = None  # set by transport_use (tests)
_sandbox = None  # billing.sandbox.respond, installed by BillingConfig.ready()


def sandbox_install(respond):
    """The responder that stands in for Stripe when no STRIPE_SECRET_KEY is set (DEBUG only)."""
    global _sandbox
    _sandbox = respond


@contextmanager
def transport_use(respond):
    """Within the block, every Stripe request is answered by `respond` (a RecordingTransport)."""
    global _responder
    previous, _responder = _responder, respond
    try:
        yield respond
    finally:
        _responder = previous


def _client():
    respond = _responder
    if respond is None and settings.PAYMENTS_SANDBOX:
        respond = _sandbox
    api_key = settings.STRIPE_SECRET_KEY or "sk_test_sandbox"  # a stand-in answers without a key
    options = {}
    if settings.STRIPE_API_BASE:
        options["base_addresses"] = {"api": settings.STRIPE_API_BASE.rstrip("/")}
    if respond is not None:
        options["http_client"] = _ResponderClient(respond)
    return stripe.StripeClient(
        api_key, stripe_version=API_VERSION, max_network_retries=NETWORK_RETRIES, **options
    )


def _call(operation, *args, key=None, params=None):
    """Run `client.v1.<operation>(*args, params)`; answer Stripe's JSON as a dict."""
    target = _client().v1
    for part in operation.split("."):
        target = getattr(target, part)
    options = {"idempotency_key": key} if key else {}
    try:
        result = target(*args, params=params or {}, options=options)
    except stripe.StripeError as error:
        raise _payment_error(error) from error
    return result.to_dict()


# --- customers -----------------------------------------------------------------------------


def customer_create(*, name, email, workspace_slug, idempotency_key):
    """One Stripe Customer per workspace; the key (from the workspace) makes a retry reuse it."""
    params = {"name": name[:250], "metadata": {"workspace": workspace_slug}}
    if email:
        params["email"] = email
    return _call("customers.create", key=idempotency_key, params=params)["id"]


def customer_default_card_set(*, customer_id, payment_method_id):
    """The card invoices and the subscription charge (a subscription without a card of its
    own uses the customer's default)."""
    _call("customers.update", customer_id,
          params={"invoice_settings": {"default_payment_method": payment_method_id}})


# --- Checkout ------------------------------------------------------------------------------

_CHECKOUT_RULES = {
    "currency": "usd",
    "automatic_tax": {"enabled": False},
    "allow_promotion_codes": False,
    "adaptive_pricing": {"enabled": False},
    "payment_method_types": ["card"],
}


def checkout_payment_create(
    *, customer_id, workspace_slug, amount_cents, product_name, metadata, intent_metadata,
    save_card, success_url, cancel_url, idempotency_key,
):
    """A Checkout Session in payment mode for one line of `amount_cents` US cents.

    The card is kept for later only with setup_future_usage=off_session (auto-recharge and
    pay-as-you-go charge it while the customer is away).
    """
    intent = {"metadata": intent_metadata}
    if save_card:
        intent["setup_future_usage"] = "off_session"
    params = {
        **_CHECKOUT_RULES, "mode": "payment", "customer": customer_id,
        "client_reference_id": workspace_slug, "metadata": metadata,
        "line_items": [{"quantity": 1, "price_data": {
            "currency": "usd", "unit_amount": amount_cents, "product_data": {"name": product_name},
        }}],
        "payment_intent_data": intent, "success_url": success_url, "cancel_url": cancel_url,
    }
    return _call("checkout.sessions.create", key=idempotency_key, params=params)


def checkout_setup_create(*, customer_id, workspace_slug, metadata, success_url, cancel_url):
    """A Checkout Session in setup mode: saves a card for off-session use, charges nothing."""
    params = {
        "mode": "setup", "customer": customer_id, "currency": "usd", "payment_method_types": ["card"],
        "client_reference_id": workspace_slug, "metadata": metadata,
        "setup_intent_data": {"metadata": metadata}, "success_url": success_url, "cancel_url": cancel_url,
    }
    return _call("checkout.sessions.create", params=params)


def checkout_session_get(session_id):
    return _call("checkout.sessions.retrieve", session_id)


# --- cards ---------------------------------------------------------------------------------


def payment_method_get(payment_method_id):
    return _call("payment_methods.retrieve", payment_method_id)


def payment_method_detach(payment_method_id):
    _call("payment_methods.detach", payment_method_id)


def setup_intent_get(setup_intent_id):
    return _call("setup_intents.retrieve", setup_intent_id)


def payment_intent_get(payment_intent_id):
    return _call("payment_intents.retrieve", payment_intent_id)


def charge_get(charge_id):
    return _call("charges.retrieve", charge_id)


# --- money taken while the customer is away (auto-recharge, invoices) --------------------------


def payment_intent_off_session_create(
    *, customer_id, payment_method_id, amount_cents, metadata, idempotency_key
):
    """Charge a saved card now, off-session. `metadata.kind` must be `auto_recharge` or
    `invoice`: only such intents are fulfilled by `payment_intent.succeeded`.

    A card that needs 3-D Secure raises PaymentError(code="authentication_required"), whether
    Stripe raises it or (as some stand-ins do) answers `requires_action`.
    """
    if metadata.get("kind") not in ("auto_recharge", "invoice"):
        raise ValueError("off-session payments carry metadata.kind auto_recharge or invoice")
    intent = _call("payment_intents.create", key=idempotency_key, params={
        "amount": amount_cents, "currency": "usd", "customer": customer_id,
        "payment_method": payment_method_id, "off_session": True, "confirm": True,
        "payment_method_types": ["card"], "metadata": metadata,
    })
    if intent.get("status") == "requires_action":
        raise PaymentError(AUTHENTICATION_NEEDED, code="authentication_required")
    return intent


# --- paid plans: prices, subscriptions, one-off invoices ---------------------------------


def plan_price_ensure(*, plan_code, plan_name, amount_cents):
    """The monthly USD Price of a plan's fee, found by its lookup key or made once (a price
    edit in the admin makes a new lookup key, so an old subscription keeps its old price)."""
    lookup = f"meterdesk_{plan_code}_{amount_cents}_usd_month"
    found = _call("prices.list", params={"lookup_keys": [lookup], "active": True, "limit": 1}).get("data") or []
    if found:
        return found[0]["id"]
    return _call("prices.create", key=f"price:{lookup}", params={
        "currency": "usd", "unit_amount": amount_cents, "recurring": {"interval": "month"},
        "lookup_key": lookup, "product_data": {"name": f"Meterdesk {plan_name}"},
        "metadata": {"plan": plan_code},
    })["id"]


def checkout_subscription_create(
    *, customer_id, workspace_slug, price_id, plan_code, success_url, cancel_url, idempotency_key,
):
    """A Checkout Session in subscription mode: the first month is paid there, and the card
    becomes the subscription's."""
    metadata = {"kind": "subscription", "plan": plan_code}
    params = {
        **_CHECKOUT_RULES, "mode": "subscription", "customer": customer_id,
        "client_reference_id": workspace_slug, "metadata": metadata,
        "line_items": [{"price": price_id, "quantity": 1}],
        "subscription_data": {"metadata": {"workspace": workspace_slug, "plan": plan_code}},
        "success_url": success_url, "cancel_url": cancel_url,
    }
    return _call("checkout.sessions.create", key=idempotency_key, params=params)


def subscription_get(subscription_id):
    return _call("subscriptions.retrieve", subscription_id)


def subscription_price_change(*, subscription_id, item_id, price_id, plan_code, workspace_slug, anchor_now, idempotency_key):
    """Move the subscription to another plan's price, never prorated. anchor_now (an upgrade)
    restarts the billing period now, so Stripe invoices the new fee at once; otherwise (a
    downgrade) the new price is billed from the next renewal."""
    params = {
        "items": [{"id": item_id, "price": price_id}], "proration_behavior": "none",
        "metadata": {"workspace": workspace_slug, "plan": plan_code},
    }
    if anchor_now:
        params["billing_cycle_anchor"] = "now"
    return _call("subscriptions.update", subscription_id, key=idempotency_key, params=params)


def subscription_cancel_at_period_end(*, subscription_id, cancel):
    """cancel=True: the subscription ends when the period ends (a downgrade to a free plan);
    False undoes it."""
    return _call("subscriptions.update", subscription_id, params={"cancel_at_period_end": cancel})


def invoice_one_off_create(*, customer_id, amount_cents, description, metadata, idempotency_key):
    """A one-off Stripe invoice of one line, charged automatically to the customer's default
    card. Each call carries a key derived from `idempotency_key` (`cycle:<id>:overage`)."""
    invoice = _call("invoices.create", key=idempotency_key, params={
        "customer": customer_id, "currency": "usd", "collection_method": "charge_automatically",
        "auto_advance": True, "pending_invoice_items_behavior": "exclude", "metadata": metadata,
    })
    _call("invoice_items.create", key=f"{idempotency_key}:line", params={
        "customer": customer_id, "invoice": invoice["id"], "amount": amount_cents, "currency": "usd",
        "description": description[:250], "metadata": metadata,
    })
    return _call("invoices.finalize_invoice", invoice["id"], key=f"{idempotency_key}:finalize",
                 params={"auto_advance": True})


# --- refunds -------------------------------------------------------------------------------


def refund_create(*, payment_intent_id, amount_cents, idempotency_key):
    return _call("refunds.create", key=idempotency_key, params={
        "payment_intent": payment_intent_id, "amount": amount_cents,
    })


# --- webhooks ------------------------------------------------------------------------------


def webhook_event_parse(*, payload, signature):
    """The event of a webhook request as a dict, once its signature is proven.

    Raises WebhookSignatureError for a missing, forged or stale (over 300 s) signature or a
    body that is not what was signed.
    """
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise WebhookSignatureError("STRIPE_WEBHOOK_SECRET is not set")
    if not signature:
        raise WebhookSignatureError("no Stripe-Signature header")
    text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
    try:
        stripe.WebhookSignature.verify_header(text, signature, secret, WEBHOOK_TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError as error:
        raise WebhookSignatureError(str(error)) from error
    try:
        event = json.loads(text)
    except ValueError as error:
        raise WebhookSignatureError("the body is not JSON") from error
    if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
        raise WebhookSignatureError("the body is not a Stripe event")
    return event
