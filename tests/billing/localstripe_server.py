"""`localstripe` (PyPI, GPL: tests only) served in-process on 127.0.0.1, for billing.payments'
tests: customers, attached cards, SetupIntents, off-session PaymentIntents, refunds.

What it does not do as Stripe does (Checkout, its own webhooks, idempotency keys, raising
`authentication_required`) is covered by signed fixtures and payments.RecordingTransport.
"""

import asyncio
import json
import socket
import threading
import urllib.request

import pytest

TEST_KEY = "sk_test_localstripe"


@pytest.fixture(scope="session")
def localstripe_base():
    """The base URL of a localstripe server bound to 127.0.0.1 only, for the session."""
    from aiohttp import web
    from localstripe import resources, server

    resources.store.dump_to_disk = lambda: None  # it would pickle itself to a shared /tmp file
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(server.app, access_log=None)
    started = threading.Event()

    def serve():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="localstripe", daemon=True)
    thread.start()
    assert started.wait(10), "localstripe did not start"
    yield f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


@pytest.fixture
def localstripe(localstripe_base, settings):
    """Point billing.payments at localstripe (a secret key set: the sandbox is off)."""
    settings.STRIPE_SECRET_KEY = TEST_KEY
    settings.STRIPE_API_BASE = localstripe_base
    settings.PAYMENTS_SANDBOX = False
    return LocalStripe(localstripe_base)


class LocalStripe:
    """What Stripe's Checkout would do on the customer's side (attach a card, confirm a
    SetupIntent), and reads to check what billing.payments did."""

    def __init__(self, base):
        self.base = base

    def call(self, method, path, data=None):
        body = "&".join(f"{k}={v}" for k, v in (data or {}).items()).encode() if data else None
        request = urllib.request.Request(
            self.base + path, data=body, method=method,
            headers={"Authorization": f"Bearer {TEST_KEY}", "Content-Type": "application/x-www-form-urlencoded"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def card_attach(self, customer_id, payment_method="pm_card_visa"):
        return self.call("POST", f"/v1/payment_methods/{payment_method}/attach", {"customer": customer_id})

    def card_create(self, number):
        return self.call("POST", "/v1/payment_methods", {
            "type": "card", "card[number]": number, "card[exp_month]": "12", "card[exp_year]": "2031", "card[cvc]": "123",
        })

    def setup_intent_confirmed(self, customer_id, payment_method, metadata=None):
        params = {"customer": customer_id, "usage": "off_session"}
        for key, value in (metadata or {}).items():
            params[f"metadata[{key}]"] = value
        intent = self.call("POST", "/v1/setup_intents", params)
        return self.call("POST", f"/v1/setup_intents/{intent['id']}/confirm", {"payment_method": payment_method})
