import factory
from allauth.account.models import EmailAddress

from accounts.models import User
from teams.models import Membership
from teams.services import workspace_create

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    """A user whose e-mail address is verified, able to log in with PASSWORD."""

    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.set_password(extracted or PASSWORD)
        if create:
            obj.save(update_fields=["password"])

    @factory.post_generation
    def verified(obj, create, extracted, **kwargs):
        if create and extracted is not False:
            EmailAddress.objects.get_or_create(
                user=obj, email=obj.email, defaults={"verified": True, "primary": True}
            )


class WorkspaceFactory:
    """WorkspaceFactory(owner=..., name=...): made through the real service, with billing."""

    def __new__(cls, owner=None, name="Workspace"):
        return workspace_create(owner=owner or UserFactory(), name=name)


def add_member(workspace, email, role):
    user = UserFactory(email=email)
    Membership.objects.create(user=user, workspace=workspace, role=role)
    return user


def give_credits(workspace, credits):
    """Move whole credits into (or, negative, out of) a workspace through the real ledger."""
    from billing.ledger import ledger_post
    from billing.models import EntryKind
    from billing.money import MICRO

    ledger_post(workspace=workspace, kind=EntryKind.ADJUSTMENT, amount_micro=credits * MICRO, memo="test")
