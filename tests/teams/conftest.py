import pytest

from tests.factories import add_member


@pytest.fixture
def co_owner(workspace):
    return add_member(workspace, "owner2@example.com", "owner")


@pytest.fixture
def other_member(workspace):
    return add_member(workspace, "member2@example.com", "member")


@pytest.fixture
def other_admin(workspace):
    return add_member(workspace, "admin2@example.com", "admin")


@pytest.fixture
def as_role(request, workspace, owner, admin_user, member, outsider):
    """as_role("owner"|"admin"|"member"|"outsider") -> that user (all four exist)."""
    users = {"owner": owner, "admin": admin_user, "member": member, "outsider": outsider}
    return users.__getitem__
