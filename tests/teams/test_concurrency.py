"""Races that only a real database shows: PostgreSQL row locks keep the team consistent."""

import threading

import pytest
from django.db import connection

from teams.models import Membership, Role
from teams.services import TeamError, invitation_accept, invitation_create, member_role_change
from tests.factories import UserFactory, WorkspaceFactory, add_member

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(*calls):
    """Start every call at the same moment in its own thread; return what each returned or raised."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            results[i] = call()
        except Exception as exc:  # noqa: BLE001 - collected for the assertions
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def test_two_accepts_at_once_make_exactly_one_membership():
    owner = UserFactory(email="owner@example.com")
    workspace = WorkspaceFactory(owner=owner, name="Acme")
    newbie = UserFactory(email="newbie@example.com")
    _, token = invitation_create(
        workspace=workspace, actor=owner, email=newbie.email, role=Role.MEMBER,
        base_url="http://testserver/", send=False,
    )
    results = run_together(*[lambda: invitation_accept(token=token, user=newbie)] * 2)
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], TeamError)
    assert "already been used" in str(errors[0])
    assert Membership.objects.filter(workspace=workspace, user=newbie).count() == 1


def test_two_owners_demoting_each_other_at_once_leave_one_owner():
    first = UserFactory(email="first@example.com")
    workspace = WorkspaceFactory(owner=first, name="Acme")
    second = add_member(workspace, "second@example.com", Role.OWNER)
    for _ in range(5):  # a few rounds, so the race really happens in different orders
        Membership.objects.filter(workspace=workspace).update(role=Role.OWNER)
        results = run_together(
            lambda: member_role_change(workspace=workspace, actor=first, user=second, role=Role.ADMIN),
            lambda: member_role_change(workspace=workspace, actor=second, user=first, role=Role.ADMIN),
        )
        assert sum(isinstance(r, TeamError) for r in results) == 1
        assert Membership.objects.filter(workspace=workspace, role=Role.OWNER).count() == 1
