"""The payment sandbox's side of paid plans: prices, Checkout in subscription mode, the
subscription and its invoices, and one-off invoices (registered with billing/sandbox.py
when billing loads).

It sends the events Stripe would (checkout.session.completed, invoice.paid or
invoice.payment_failed, customer.subscription.updated) to the same webhook handling.
"""

import time
from urllib.parse import urlsplit

from django.urls import reverse
from django.utils import timezone

from billing.cycles import cycle_bounds
from billing import sandbox
from billing.sandbox import (
    SandboxError, _create, _payment_method, card_behaviour, deliver_on_commit, get, new_id, put,
)
from billing.models import SandboxObject


def route(method, parts, params):
    """Answer a request about prices, subscriptions or invoices; None when it is not one."""
    if parts[0] == "prices":
        return _prices(method, parts, params)
    if method == "post" and parts[0] == "subscriptions" and len(parts) == 2:
        return _subscription_update(get(parts[1]), params)
    if method == "post" and parts == ["invoices"]:
        return _create("in", "invoice", customer=params["customer"], currency="usd", status="draft",
                       metadata=params.get("metadata") or {}, lines={"object": "list", "data": []},
                       amount_due=0, amount_paid=0, total=0, parent=None, billing_reason="manual",
                       hosted_invoice_url=None, number=None)
    if method == "post" and parts == ["invoiceitems"]:
        invoice = get(params["invoice"])
        amount = int(params["amount"])
        item = _create("ii", "invoiceitem", amount=amount, currency="usd", invoice=invoice["id"],
                       description=params.get("description"), metadata=params.get("metadata") or {})
        invoice["lines"]["data"].append({"id": new_id("il"), "object": "line_item", "amount": amount,
                                         "description": item["description"], "quantity": 1, "currency": "usd"})
        invoice["total"] = invoice["amount_due"] = invoice["total"] + amount
        put(invoice)
        return item
    if method == "post" and parts[0] == "invoices" and parts[2:] == ["finalize"]:
        return _invoice_charge(get(parts[1]))
    return None


def _prices(method, parts, params):
    if method == "get" and len(parts) == 1:
        keys = params.get("lookup_keys") or []
        rows = SandboxObject.objects.filter(id__in=[f"lookup:{key}"[:64] for key in keys])
        return {"object": "list", "data": [get(row.data["price"]) for row in rows], "has_more": False}
    if method == "post" and len(parts) == 1:
        product = _create("prod", "product", name=(params.get("product_data") or {}).get("name"))
        price = _create("price", "price", currency="usd", unit_amount=int(params["unit_amount"]), active=True,
                        recurring={"interval": "month", "interval_count": 1}, type="recurring",
                        lookup_key=params.get("lookup_key"), product=product["id"], metadata=params.get("metadata") or {})
        if price["lookup_key"]:
            SandboxObject.objects.create(id=f"lookup:{price['lookup_key']}"[:64], object="lookup", data={"price": price["id"]})
        return price
    return get(parts[1])


def session_create(params):
    price = get(params["line_items"][0]["price"])
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(params["success_url"]))
    session = _create(
        "cs", "checkout.session", mode="subscription", status="open", payment_status="unpaid",
        customer=params.get("customer"), client_reference_id=params.get("client_reference_id"),
        metadata=params.get("metadata") or {}, currency="usd", amount_subtotal=price["unit_amount"],
        amount_total=price["unit_amount"], line_items_name=f"{get(price['product']).get('name')}, monthly",
        price=price["id"], subscription=None, invoice=None, payment_intent=None, setup_intent=None,
        subscription_data=params.get("subscription_data") or {}, success_url=params["success_url"],
        cancel_url=params["cancel_url"],
    )
    session["url"] = origin + reverse("sandbox_checkout", args=[session["id"]])
    return put(session)


def _period(now=None):
    now = now or timezone.now()
    _, end = cycle_bounds(now.day, now)
    return int(now.timestamp()), int(end.timestamp())


def subscription_complete(session, card_id, decline=False):
    """Pay a subscription Checkout: the card becomes the customer's default, the subscription
    starts and its first invoice is paid. Declined: the session stays open, as Stripe's does."""
    if decline:
        return
    method = _payment_method(card_id, session["customer"])
    customer = get(session["customer"])
    customer["invoice_settings"]["default_payment_method"] = method["id"]
    put(customer)
    start, end = _period()
    price = get(session["price"])
    subscription = _create(
        "sub", "subscription", status="active", customer=session["customer"], cancel_at_period_end=False,
        default_payment_method=method["id"], metadata=session["subscription_data"].get("metadata") or {},
        items={"object": "list", "data": [{"id": new_id("si"), "object": "subscription_item", "price": price,
                                           "quantity": 1, "current_period_start": start, "current_period_end": end}]},
    )
    invoice = _subscription_invoice(subscription, "subscription_create")
    session.update(status="complete", payment_status="paid", subscription=subscription["id"], invoice=invoice["id"])
    put(session)
    deliver_on_commit("checkout.session.completed", session)
    _invoice_charge(invoice)


def _subscription_invoice(subscription, reason):
    item = subscription["items"]["data"][0]
    amount = item["price"]["unit_amount"]
    return _create(
        "in", "invoice", customer=subscription["customer"], currency="usd", status="draft", billing_reason=reason,
        metadata={}, amount_due=amount, amount_paid=0, total=amount, hosted_invoice_url=None, number=None,
        parent={"type": "subscription_details", "subscription_details": {
            "subscription": subscription["id"], "metadata": subscription["metadata"]}},
        lines={"object": "list", "data": [{
            "id": new_id("il"), "object": "line_item", "amount": amount, "currency": "usd", "quantity": 1,
            "description": f"1 × {get(item['price']['product']).get('name')} (per month)",
            "period": {"start": item["current_period_start"], "end": item["current_period_end"]},
        }]},
    )


def _invoice_charge(invoice):
    """Finalize and charge the customer's default card, as Stripe's automatic collection does."""
    customer = get(invoice["customer"])
    method = customer["invoice_settings"].get("default_payment_method") or ""
    invoice["number"] = invoice["number"] or f"SBX-{int(time.time() * 1000) % 10**9}"
    invoice["hosted_invoice_url"] = f"https://invoice.stripe.test/{invoice['id']}"
    if method and card_behaviour(method) == "visa":
        invoice.update(status="paid", amount_paid=invoice["total"])
        put(invoice)
        deliver_on_commit("invoice.paid", invoice)
        return invoice
    invoice["status"] = "open"
    put(invoice)
    if method and card_behaviour(method) == "3ds":
        deliver_on_commit("invoice.payment_action_required", invoice)
    else:
        deliver_on_commit("invoice.payment_failed", invoice)
    sub_id = ((invoice.get("parent") or {}).get("subscription_details") or {}).get("subscription")
    if sub_id:
        subscription = get(sub_id)
        subscription["status"] = "past_due"
        deliver_on_commit("customer.subscription.updated", put(subscription))
    return invoice


def _subscription_update(subscription, params):
    if "cancel_at_period_end" in params:
        subscription["cancel_at_period_end"] = bool(params["cancel_at_period_end"])
    if params.get("metadata"):
        subscription["metadata"].update(params["metadata"])
    invoice = None
    if params.get("items"):
        item = subscription["items"]["data"][0]
        if params["items"][0].get("id") != item["id"]:
            raise SandboxError(400, "invalid_request_error", "No such subscription item.")
        item["price"] = get(params["items"][0]["price"])
        if params.get("billing_cycle_anchor") == "now":
            item["current_period_start"], item["current_period_end"] = _period()
            invoice = _subscription_invoice(subscription, "subscription_update")
    put(subscription)
    deliver_on_commit("customer.subscription.updated", subscription)
    if invoice is not None:
        _invoice_charge(invoice)
        subscription = get(subscription["id"])
    return subscription


sandbox.ROUTES.append(route)
sandbox.CHECKOUT_MODES["subscription"] = (session_create, subscription_complete)
