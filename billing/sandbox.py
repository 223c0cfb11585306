"""The built-in payment sandbox (development only: no STRIPE_SECRET_KEY and DEBUG on).

It answers the Stripe API requests billing/payments.py makes, through the SDK's HTTP seam,
with Stripe-shaped JSON kept in SandboxObject rows (so the web process and a Celery worker
share it), honours idempotency keys as Stripe does, and serves its own checkout page
(billing/sandbox_views.py) clearly marked "test payment". Paying there delivers the events
Stripe would send (payment_intent.succeeded, then checkout.session.completed) straight to
billing.webhooks.webhook_receive: the same handlers and fulfilment functions as production.

Saved test cards: one that succeeds, one whose charges are declined, one that needs
authentication (3-D Secure) when charged while the customer is away.
"""

import json
import re
import secrets
import time
from urllib.parse import parse_qsl, urlsplit

from django.db import transaction
from django.urls import reverse

from billing.models import SandboxObject

TEST_CARDS = {
    "pm_sandbox_visa": {"brand": "visa", "last4": "4242", "label": "Succeeds"},
    "pm_sandbox_declined": {"brand": "visa", "last4": "0341", "label": "Declined when charged later"},
    "pm_sandbox_3ds": {"brand": "mastercard", "last4": "3155", "label": "Needs authentication when charged later"},
}
DECLINED = "Your card was declined."


class SandboxError(Exception):
    def __init__(self, status, kind, message, code=None, **extra):
        super().__init__(message)
        self.body = {"error": {"type": kind, "message": message, **({"code": code} if code else {}), **extra}}
        self.status = status


# --- the store -------------------------------------------------------------------------------


def new_id(prefix):
    return f"{prefix}_sbx_{secrets.token_hex(10)}"


def get(object_id):
    row = SandboxObject.objects.filter(id=object_id).first()
    if row is None:
        raise SandboxError(404, "invalid_request_error", f"No such object: '{object_id}'", code="resource_missing")
    return row.data


def put(data):
    SandboxObject.objects.update_or_create(id=data["id"], defaults={"object": data["object"], "data": data})
    return data


def _create(prefix, kind, **fields):
    return put({"id": new_id(prefix), "object": kind, "created": int(time.time()), "livemode": False, **fields})


# --- form decoding: the SDK sends `a[b][0][c]=v` ----------------------------------------------


def decode(body):
    root = {}
    for key, value in parse_qsl(body or "", keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part, following in zip(parts, parts[1:]):
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node):
    if not isinstance(node, dict):
        return {"true": True, "false": False}.get(node, node)
    if node and all(k.isdigit() for k in node):
        return [_lists(node[k]) for k in sorted(node, key=int)]
    return {k: _lists(v) for k, v in node.items()}


# --- the API ---------------------------------------------------------------------------------


def respond(method, url, headers, body):
    """Answer one SDK request: (HTTP status, JSON text)."""
    path = urlsplit(url).path
    params = decode(body) if method.lower() == "post" else decode(urlsplit(url).query)
    key = {k.lower(): v for k, v in headers.items()}.get("idempotency-key")
    with transaction.atomic():
        if key:
            remembered = SandboxObject.objects.filter(id=f"idem:{key}"[:64]).first()
            if remembered is not None:
                return remembered.data["status"], remembered.data["body"]
        try:
            status, answer = 200, _route(method.lower(), path, params)
        except SandboxError as error:  # a decline keeps its intent, as Stripe's does
            status, answer = error.status, error.body
        text = json.dumps(answer)
        if key:
            SandboxObject.objects.create(
                id=f"idem:{key}"[:64], object="idempotency", data={"status": status, "body": text}
            )
    return status, text


# Paid plans (billing.sandbox_plans, loaded with billing) add their requests and their
# checkout mode here: ROUTES answer a request or return None; CHECKOUT_MODES maps a mode to
# (create(params), complete(session, card_id, decline)).
ROUTES = []
CHECKOUT_MODES = {}


def _route(method, path, params):
    parts = path.strip("/").split("/")[1:]  # drop "v1"
    if method == "post" and parts == ["customers"]:
        return _create("cus", "customer", name=params.get("name"), email=params.get("email"),
                       metadata=params.get("metadata") or {}, invoice_settings={"default_payment_method": None})
    if method == "post" and parts[0] == "customers" and len(parts) == 2:
        customer = get(parts[1])
        customer["invoice_settings"].update(params.get("invoice_settings") or {})
        return put(customer)
    if method == "post" and parts == ["checkout", "sessions"]:
        if params.get("mode") in CHECKOUT_MODES:
            return CHECKOUT_MODES[params["mode"]][0](params)
        return _session_create(params)
    if method == "post" and parts == ["payment_intents"]:
        return _off_session_charge(params)
    if method == "post" and parts == ["refunds"]:
        return _refund(params)
    if method == "post" and parts[0] == "payment_methods" and parts[2:] == ["detach"]:
        method_obj = get(parts[1])
        method_obj["customer"] = None
        return put(method_obj)
    for route in ROUTES:
        answer = route(method, parts, params)
        if answer is not None:
            return answer
    if method == "get" and len(parts) in (2, 3):
        return get(parts[-1])
    raise SandboxError(404, "invalid_request_error", f"The payment sandbox does not serve {method.upper()} {path}.")


def _session_create(params):
    line = (params.get("line_items") or [{}])[0]
    amount = int(line.get("price_data", {}).get("unit_amount", 0)) * int(line.get("quantity", 1))
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(params["success_url"]))
    session = _create(
        "cs", "checkout.session", mode=params["mode"], status="open", payment_status="unpaid",
        customer=params.get("customer"), client_reference_id=params.get("client_reference_id"),
        metadata=params.get("metadata") or {}, currency="usd",
        amount_subtotal=amount if params["mode"] == "payment" else None,
        amount_total=amount if params["mode"] == "payment" else None,
        line_items_name=line.get("price_data", {}).get("product_data", {}).get("name", ""),
        payment_intent=None, setup_intent=None, success_url=params["success_url"],
        cancel_url=params["cancel_url"], payment_intent_data=params.get("payment_intent_data") or {},
        setup_intent_data=params.get("setup_intent_data") or {},
    )
    session["url"] = origin + reverse("sandbox_checkout", args=[session["id"]])
    return put(session)


def _payment_method(card_id, customer):
    card = TEST_CARDS[card_id]
    method_id = new_id("pm") + "_" + card_id.removeprefix("pm_sandbox_")
    return put({"id": method_id, "object": "payment_method", "type": "card", "customer": customer,
                "created": int(time.time()), "livemode": False, "metadata": {},
                "card": {"brand": card["brand"], "last4": card["last4"], "exp_month": 12, "exp_year": 2030}})


def card_behaviour(method_id):
    for name in ("declined", "3ds"):
        if method_id.endswith("_" + name):
            return name
    return "visa"


def _intent(*, amount, customer, method, metadata, status, error=None, setup_future_usage=None):
    intent = _create("pi", "payment_intent", amount=amount, amount_received=amount if status == "succeeded" else 0,
                     currency="usd", customer=customer, payment_method=method, metadata=metadata or {},
                     status=status, last_payment_error=error, setup_future_usage=setup_future_usage,
                     latest_charge=None)
    if status == "succeeded":
        charge = _create("ch", "charge", amount=amount, amount_refunded=0, currency="usd", paid=True,
                         refunded=False, payment_intent=intent["id"], customer=customer, payment_method=method,
                         refunds={"object": "list", "data": [], "has_more": False})
        intent["latest_charge"] = charge["id"]
        put(intent)
    return intent


def _off_session_charge(params):
    method = get(params["payment_method"])
    amount, customer = int(params["amount"]), params.get("customer")
    behaviour = card_behaviour(method["id"])
    if behaviour == "visa":
        intent = _intent(amount=amount, customer=customer, method=method["id"], metadata=params.get("metadata"),
                         status="succeeded")
        deliver_on_commit("payment_intent.succeeded", intent)
        return intent
    code = "card_declined" if behaviour == "declined" else "authentication_required"
    error = {"type": "card_error", "code": code, "message": DECLINED if code == "card_declined"
             else "This payment requires authentication."}
    if code == "card_declined":
        error["decline_code"] = "generic_decline"
    intent = _intent(amount=amount, customer=customer, method=method["id"], metadata=params.get("metadata"),
                     status="requires_payment_method", error=error)
    deliver_on_commit("payment_intent.payment_failed", intent)
    raise SandboxError(402, "card_error", error["message"], code=code, payment_intent=intent,
                       **({"decline_code": "generic_decline"} if code == "card_declined" else {}))


def _refund(params):
    intent = get(params["payment_intent"])
    charge = get(intent["latest_charge"])
    amount = int(params.get("amount") or charge["amount"] - charge["amount_refunded"])
    if amount <= 0 or charge["amount_refunded"] + amount > charge["amount"]:
        raise SandboxError(400, "invalid_request_error", "The refund is more than what is left of the charge.")
    refund = _create("re", "refund", amount=amount, charge=charge["id"], payment_intent=intent["id"],
                     currency="usd", status="succeeded")
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    charge["refunds"]["data"].insert(0, refund)
    put(charge)
    deliver_on_commit("charge.refunded", charge)
    return refund


# --- the checkout page's buttons -------------------------------------------------------------


def checkout_complete(session_id, *, card_id="pm_sandbox_visa", decline=False):
    """Pay (or decline) an open sandbox session as Stripe's Checkout would; returns where the
    customer goes next (the session's success URL)."""
    with transaction.atomic():
        session = get(session_id)
        if session["status"] != "open":
            return _success_url(session)
        if session["mode"] == "setup":
            _setup_complete(session, card_id)
        elif session["mode"] in CHECKOUT_MODES:
            CHECKOUT_MODES[session["mode"]][1](session, card_id, decline)
        elif decline:
            _payment_decline(session)
        else:
            _payment_complete(session, card_id)
    return _success_url(session)


def _success_url(session):
    return session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])


def _payment_complete(session, card_id):
    intent_data = session["payment_intent_data"]
    saves = intent_data.get("setup_future_usage") == "off_session"
    method = _payment_method(card_id, session["customer"] if saves else None)
    intent = _intent(amount=session["amount_subtotal"], customer=session["customer"], method=method["id"],
                     metadata=intent_data.get("metadata"), status="succeeded",
                     setup_future_usage=intent_data.get("setup_future_usage"))
    session.update(status="complete", payment_status="paid", payment_intent=intent["id"])
    put(session)
    # Stripe sends these in no fixed order; the intent's arrives first here, and is not what credits.
    deliver_on_commit("payment_intent.succeeded", intent)
    deliver_on_commit("checkout.session.completed", session)


def _payment_decline(session):
    intent_data = session["payment_intent_data"]
    error = {"type": "card_error", "code": "card_declined", "decline_code": "generic_decline", "message": DECLINED}
    intent = session.get("payment_intent") and get(session["payment_intent"])
    if not intent:
        intent = _intent(amount=session["amount_subtotal"], customer=session["customer"], method=None,
                         metadata=intent_data.get("metadata"), status="requires_payment_method", error=error)
        session["payment_intent"] = intent["id"]
        put(session)
    deliver_on_commit("payment_intent.payment_failed", intent)


def _setup_complete(session, card_id):
    method = _payment_method(card_id, session["customer"])
    setup = _create("seti", "setup_intent", status="succeeded", customer=session["customer"],
                    payment_method=method["id"], usage="off_session",
                    metadata=session["setup_intent_data"].get("metadata") or {})
    session.update(status="complete", setup_intent=setup["id"])
    put(session)
    deliver_on_commit("setup_intent.succeeded", setup)
    deliver_on_commit("checkout.session.completed", session)


def deliver_on_commit(event_type, obj):
    """Hand Stripe's event to the webhook handling once the sandbox's writes are committed."""
    event = {"id": new_id("evt"), "object": "event", "type": event_type, "created": int(time.time()),
             "api_version": None, "livemode": False, "data": {"object": json.loads(json.dumps(obj))}}

    def deliver():
        from billing.webhooks import webhook_receive

        webhook_receive(event)

    transaction.on_commit(deliver)
