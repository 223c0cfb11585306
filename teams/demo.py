"""The demo workspace's people: an owner, an admin, a member, staff and a pending invitation."""

from dataclasses import dataclass, field

from allauth.account.models import EmailAddress

from accounts.models import User
from teams.models import Invitation, Membership, Role, Workspace
from teams.services import invitation_create, workspace_create

PASSWORD = "meterdesk-demo"
STAFF_EMAIL = "staff@meterdesk.test"
DEMO_SLUG = "acme-ai"
INVITED_EMAIL = "new.hire@acme.test"


@dataclass
class Demo:
    workspace: Workspace
    owner: User
    admin: User
    member: User
    logins: list = field(default_factory=list)


def _user(email, **extra):
    user, created = User.objects.get_or_create(email=email, defaults=extra)
    if created:
        user.set_password(PASSWORD)
        user.save()
    EmailAddress.objects.get_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


def seed():
    owner = _user("owner@acme.test")
    admin = _user("admin@acme.test")
    member = _user("member@acme.test")
    _user(STAFF_EMAIL, is_staff=True, is_superuser=True)
    workspace = Workspace.objects.filter(slug=DEMO_SLUG).first()
    if workspace is None:
        workspace = workspace_create(owner=owner, name="Acme AI", slug=DEMO_SLUG)
    for user, role in ((admin, Role.ADMIN), (member, Role.MEMBER)):
        Membership.objects.get_or_create(user=user, workspace=workspace, defaults={"role": role})
    if not Invitation.objects.pending().filter(workspace=workspace, email=INVITED_EMAIL).exists():
        # No mail goes out: the demo only needs a row in "Pending invitations" (Resend mails one).
        invitation_create(
            workspace=workspace, actor=owner, email=INVITED_EMAIL, role=Role.MEMBER,
            base_url="http://127.0.0.1:8000/", send=False,
        )
    return Demo(
        workspace=workspace, owner=owner, admin=admin, member=member,
        logins=[("owner", owner.email), ("admin", admin.email), ("member", member.email)],
    )
