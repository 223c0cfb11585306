"""Stripe-shaped webhook events for tests: Stripe's example objects (stripe/objects.json) with
only the fields a flow needs filled in, signed as Stripe signs (HMAC-SHA256 of "t.body")."""

import copy
import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path

from django.urls import reverse

WEBHOOK_SECRET = "whsec_test_meterdesk"
OBJECTS = json.loads((Path(__file__).parent / "stripe" / "objects.json").read_text())


def stripe_object(kind, **fields):
    """A deep copy of Stripe's example `kind` object with `fields` replaced."""
    obj = copy.deepcopy(OBJECTS[kind])
    obj.update(fields)
    return obj


def event(event_type, obj, event_id=None):
    return stripe_object(
        "event", id=event_id or f"evt_{secrets.token_hex(12)}", type=event_type,
        data={"object": obj}, created=int(time.time()), api_version="2026-10-28.endive",
    )


def pack_session(workspace, *, credits, payment_intent="pi_test_pack", payment=None, **fields):
    """A completed Checkout Session of a credit pack, as Meterdesk creates them."""
    metadata = {"kind": "credit_pack", "credits": str(credits)}
    if payment is not None:
        metadata["payment"] = str(payment)
    values = dict(
        id=f"cs_test_{secrets.token_hex(8)}", mode="payment", status="complete", payment_status="paid",
        currency="usd", amount_subtotal=credits, amount_total=credits, client_reference_id=workspace.slug,
        metadata=metadata, payment_intent=payment_intent, customer="cus_test", adaptive_pricing={"enabled": False},
        automatic_tax={"enabled": False, "liability": None, "status": None, "provider": None},
    )
    values.update(fields)
    return stripe_object("checkout.session", **values)


def sign(body, *, secret=WEBHOOK_SECRET, at=None):
    at = int(time.time() if at is None else at)
    digest = hmac.new(secret.encode(), f"{at}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def post_event(client, evt, *, secret=WEBHOOK_SECRET, at=None, body=None, signature=True):
    """POST `evt` to the webhook as Stripe does; returns the response."""
    body = json.dumps(evt) if body is None else body
    headers = {}
    if signature:
        headers["HTTP_STRIPE_SIGNATURE"] = sign(json.dumps(evt), secret=secret, at=at) if signature is True else signature
    return client.post(reverse("stripe_webhook"), data=body, content_type="application/json", **headers)
