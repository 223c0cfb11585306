"""PostgreSQL, threads: the same event delivered at once, and a Checkout's session and its
payment_intent.succeeded racing with the success redirect, each credit once."""

import json

import pytest
from django.test import Client

from billing.fulfil import checkout_session_fulfil
from billing.ledger import ledger_sum, workspace_balance
from billing.models import Invoice, LedgerEntry, WebhookEvent
from billing.money import MICRO
from tests.billing.stripe_events import WEBHOOK_SECRET, event, pack_session, post_event, stripe_object
from tests.billing.test_concurrency_pg import run_threads
from tests.factories import UserFactory, WorkspaceFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET


@pytest.fixture
def buyer():
    return WorkspaceFactory(owner=UserFactory(email="buyer@example.com"), name="Buyer")


def test_the_same_event_from_8_threads_credits_once(buyer):
    evt = event("checkout.session.completed", pack_session(buyer, credits=20_000))
    before = workspace_balance(buyer.pk)
    answers = []
    run_threads(8, lambda n: answers.append(post_event(Client(), evt)))
    assert sorted(a.status_code for a in answers) == [200] * 8
    assert sorted(a.json()["duplicate"] for a in answers) == [False] + [True] * 7
    assert workspace_balance(buyer.pk) == ledger_sum(buyer.pk) == before + 20_000 * MICRO
    assert LedgerEntry.objects.filter(reference="pi:pi_test_pack").count() == 1
    assert Invoice.objects.filter(reference="pi:pi_test_pack").count() == 1
    assert WebhookEvent.objects.get().status == "processed"


def test_session_events_and_the_success_redirect_racing_credit_once(buyer):
    """Different event ids for one payment (completed, async_payment_succeeded, the intent's
    own event) and the redirect's direct call, all at the same moment."""
    session = pack_session(buyer, credits=1_000)
    intent = stripe_object("payment_intent", id="pi_test_pack", status="succeeded", amount=1_000,
                           amount_received=1_000, metadata={"workspace": buyer.slug})
    before = workspace_balance(buyer.pk)

    def work(n):
        if n % 4 == 0:
            checkout_session_fulfil(json.loads(json.dumps(session)))
        elif n % 4 == 1:
            post_event(Client(), event("payment_intent.succeeded", intent))
        elif n % 4 == 2:
            post_event(Client(), event("checkout.session.async_payment_succeeded", session))
        else:
            post_event(Client(), event("checkout.session.completed", session))

    run_threads(8, work)
    assert workspace_balance(buyer.pk) == ledger_sum(buyer.pk) == before + 1_000 * MICRO
    assert Invoice.objects.filter(reference="pi:pi_test_pack").count() == 1
    assert not WebhookEvent.objects.exclude(status="processed").exists()
