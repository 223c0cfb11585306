"""Another workspace's ids are a 404 on every team route, even for that workspace's owner."""

import pytest

from teams.models import Membership, Role
from teams.services import invitation_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_ids(workspace, owner, member):
    invitation, _ = invitation_create(
        workspace=workspace, actor=owner, email="pending@example.com", role=Role.MEMBER,
        base_url="http://testserver/", send=False,
    )
    return {
        "member": Membership.objects.get(workspace=workspace, user=member).pk,
        "invitation": invitation.pk,
    }


ROUTES = [
    ("post", "/settings/team/members/{member}/role/", {"role": "admin"}),
    ("get", "/settings/team/members/{member}/transfer/", None),
    ("post", "/settings/team/members/{member}/transfer/", None),
    ("get", "/settings/team/members/{member}/remove/", None),
    ("post", "/settings/team/members/{member}/remove/", None),
    ("post", "/settings/team/invitations/{invitation}/resend/", None),
    ("get", "/settings/team/invitations/{invitation}/cancel/", None),
    ("post", "/settings/team/invitations/{invitation}/cancel/", None),
]


@pytest.mark.parametrize("method, route, data", ROUTES)
def test_another_workspaces_id_is_not_found(method, route, data, client, outsider, acme_ids, workspace, member):
    client.force_login(outsider)  # owner of "Other Co", which is their current workspace
    response = getattr(client, method)(route.format(**acme_ids), data or {})
    assert response.status_code == 404
    assert Membership.objects.get(workspace=workspace, user=member).role == Role.MEMBER
    assert workspace.invitations.get().cancelled_at is None


@pytest.mark.parametrize("method, route, data", ROUTES)
def test_an_id_of_a_workspace_you_switched_away_from_is_not_found(
    method, route, data, client, owner, acme_ids, workspace
):
    """Ids resolve through the *current* workspace: switch to another one and Acme's ids vanish."""
    from tests.factories import WorkspaceFactory

    other = WorkspaceFactory(owner=owner, name="Side project")
    client.force_login(owner)
    client.post("/workspaces/switch/", {"workspace": other.slug})
    response = getattr(client, method)(route.format(**acme_ids), data or {})
    assert response.status_code == 404
