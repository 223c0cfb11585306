"""Two submissions of one create form at the same moment (a double click, a reload racing
the first answer) make one key: PostgreSQL's unique constraint decides, not a read first."""

import re

import pytest
from django.test import Client

from apikeys.models import APIKey
from tests.factories import UserFactory, WorkspaceFactory
from tests.teams.test_concurrency import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SECRET = re.compile(r"mdk_live_[0-9A-Za-z]{36}")


def test_two_posts_of_one_form_at_once_create_one_key():
    owner = UserFactory(email="race-owner@example.com")
    workspace = WorkspaceFactory(owner=owner, name="Race Inc")
    for round_number in range(5):  # several rounds, so the two really overlap
        clients = [Client(), Client()]
        for client in clients:
            client.force_login(owner)
        nonce = f"race-nonce-{round_number}-" + "x" * 20
        post = lambda client: client.post("/settings/api-keys/new/", {"name": f"Race {round_number}", "nonce": nonce})  # noqa: E731
        responses = run_together(*[lambda c=c: post(c) for c in clients])

        assert APIKey.objects.filter(workspace=workspace, name=f"Race {round_number}").count() == 1
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201, 302], responses
        shown = [SECRET.search(r.content.decode()) for r in responses]
        assert sum(1 for s in shown if s) == 1  # only the creating answer carries the secret
