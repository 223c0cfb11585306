"""Every call that moves money carries an idempotency key derived from our own record, saved
before the call: a time-out after Stripe charged, then a retry, makes one charge.

localstripe ignores Idempotency-Key, so Stripe's side is played here by a responder that
keeps Stripe's documented rule (a repeated key answers the first result) behind
payments.RecordingTransport, which records every request the SDK sends."""

import json
from urllib.parse import parse_qs

import pytest
from django.urls import reverse

from billing import payments
from billing.models import Payment
from billing.payments import PaymentError, RecordingTransport, TransportTimeout

pytestmark = pytest.mark.django_db


class StripeWithLostAnswers:
    """Creates the object, then loses the first `lost` answers on the way back."""

    def __init__(self, lost, check=None):
        self.lost, self.check = lost, check
        self.created, self.answers = [], {}

    def __call__(self, method, url, headers, body):
        key = {k.lower(): v for k, v in headers.items()}.get("idempotency-key")
        if key not in self.answers:
            if self.check:
                self.check(key)
            params = {k: v[0] for k, v in parse_qs(body or "").items()}
            obj = {"id": f"obj_{len(self.created) + 1}", "object": "payment_intent", "status": "succeeded",
                   "amount": int(params.get("amount", 0)), "url": "https://checkout.stripe.com/c/pay/x",
                   "currency": "usd"}
            self.created.append(obj)
            self.answers[key] = json.dumps(obj)
        if self.lost:
            self.lost -= 1
            raise TransportTimeout("the answer never came back")
        return 200, self.answers[key]


def _charge(workspace, key):
    return payments.payment_intent_off_session_create(
        customer_id="cus_test", payment_method_id="pm_test", amount_cents=2_500, idempotency_key=key,
        metadata={"kind": "auto_recharge", "credits": "2500", "workspace": workspace.slug},
    )


def test_the_sdk_retries_a_lost_answer_with_the_same_key_one_charge(workspace):
    stripe = StripeWithLostAnswers(lost=1)
    with payments.transport_use(RecordingTransport(stripe)) as transport:
        intent = _charge(workspace, "recharge:41")
    assert intent["id"] == "obj_1" and len(stripe.created) == 1
    assert [c.idempotency_key for c in transport.calls] == ["recharge:41", "recharge:41"]


def test_a_job_retried_after_every_answer_was_lost_charges_once(workspace):
    stripe = StripeWithLostAnswers(lost=payments.NETWORK_RETRIES + 1)
    with payments.transport_use(RecordingTransport(stripe)) as transport:
        with pytest.raises(PaymentError) as raised:
            _charge(workspace, "recharge:42")
        assert raised.value.transient  # the job is retried later, from the same record
        intent = _charge(workspace, "recharge:42")
    assert intent["id"] == "obj_1" and len(stripe.created) == 1
    assert {c.idempotency_key for c in transport.calls} == {"recharge:42"}
    assert len(transport.calls) == payments.NETWORK_RETRIES + 2


def test_a_checkout_key_comes_from_the_payment_saved_before_the_call(client_for, owner, workspace, settings):
    from billing.models import PaymentCustomer

    PaymentCustomer.objects.create(workspace=workspace, stripe_id="cus_test")
    seen = []

    def payment_exists(key):
        kind, _, pk = key.partition(":")
        seen.append(key)
        assert kind == "payment" and Payment.objects.filter(pk=int(pk), workspace=workspace).exists()

    stripe = StripeWithLostAnswers(lost=1, check=payment_exists)
    with payments.transport_use(RecordingTransport(stripe)):
        response = client_for(owner).post(reverse("billing_credits_buy"), {"pack": "1000"})
    assert response.status_code == 302 and response["Location"] == "https://checkout.stripe.com/c/pay/x"
    payment = Payment.objects.get(workspace=workspace)
    assert seen == [payment.idempotency_key] and len(stripe.created) == 1
    assert payment.checkout_session_id == "obj_1"
