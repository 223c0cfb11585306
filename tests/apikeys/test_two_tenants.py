"""One workspace's key or key id never reaches another workspace's data."""

from apikeys.models import APIKey
from apikeys.services import key_create, key_for_usage, key_revoke, key_spend_add
from apikeys.selectors import keys_for_page
from billing.money import MICRO
from tests.apikeys.conftest import drain
from tests.factories import give_credits


def test_each_key_answers_only_for_its_own_workspace(authorize, workspace, owner, outsider):
    theirs = outsider.memberships.get().workspace
    drain(workspace)
    drain(theirs)
    give_credits(workspace, 70)
    give_credits(theirs, 3)
    mine_key, mine = key_create(workspace=workspace, user=owner, name="Mine")
    their_key, their_secret = key_create(workspace=theirs, user=outsider, name="Theirs")
    a, b = authorize(mine).json(), authorize(their_secret).json()
    assert (a["workspace"], a["balance"], a["key_id"]) == (workspace.slug, "70.000000", mine_key.public_id)
    assert (b["workspace"], b["balance"], b["key_id"]) == (theirs.slug, "3.000000", their_key.public_id)


def test_key_for_usage_finds_the_keys_own_workspace_also_when_revoked(workspace, owner, outsider):
    theirs = outsider.memberships.get().workspace
    key, _ = key_create(workspace=theirs, user=outsider, name="Theirs")
    key_revoke(key=key, actor=outsider)
    found = key_for_usage(key.public_id)
    assert found.pk == key.pk and found.workspace == theirs
    assert key_for_usage("key_doesnotexist") is None
    assert key_for_usage(str(key.pk)) is None  # internal ids are not key ids


def test_spend_of_one_workspaces_key_never_shows_in_another(workspace, owner, outsider):
    theirs = outsider.memberships.get().workspace
    their_key, _ = key_create(workspace=theirs, user=outsider, name="Theirs")
    key_create(workspace=workspace, user=owner, name="Mine")
    key_spend_add(their_key, 9 * MICRO)
    rows = keys_for_page(workspace)
    assert [row.name for row in rows] == ["Mine"] and rows[0].cycle_spend_micro is None


def test_demo_seed_gives_each_demo_person_a_key_once(db):
    from apikeys import demo as apikeys_demo
    from teams import demo as teams_demo

    demo = teams_demo.seed()
    apikeys_demo.seed(demo)
    apikeys_demo.seed(demo)
    keys = APIKey.objects.filter(workspace=demo.workspace)
    assert keys.count() == 3
    assert {key.created_by for key in keys} == {demo.owner, demo.admin, demo.member}
