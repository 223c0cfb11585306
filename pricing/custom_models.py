"""Custom fine-tuned models a workspace registers (`custom.<name>`), up to its plan's allowance.

Starter allows none (pre-configured models only), pro 5, enterprise unlimited
(Plan.custom_models_allowed: 0, 5, None). Usage of an unregistered model is unknown_product.
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import User
from billing.models import BillingAccount, Plan
from pricing.catalog import custom_models_allowed
from pricing.models import CustomModel
from teams.models import Membership, Role, Workspace

PREFIX = "custom."


def custom_model_register(*, workspace: Workspace, name: str, user: User | None) -> CustomModel:
    """Register `custom.<name>`; ValidationError with a sentence a user can act on."""
    name = (name or "").strip().lower()
    if name.startswith(PREFIX):
        name = name[len(PREFIX):]
    model = CustomModel(workspace=workspace, name=name, created_by=user)
    model.full_clean(exclude=["workspace", "created_by"], validate_unique=False)
    with transaction.atomic():
        # Lock the billing account so two registrations at once cannot both take the last slot.
        account = BillingAccount.objects.select_for_update().select_related("plan").get(workspace=workspace)
        allowed = account.plan.custom_models_allowed
        if allowed == 0:
            raise ValidationError(
                f"The {account.plan.name} plan runs pre-configured models only. "
                f"{plans_with_custom_models_sentence()} Upgrade on the Billing page."
            )
        count = CustomModel.objects.filter(workspace=workspace).count()
        if allowed is not None and count >= allowed:
            raise ValidationError(
                f"Your {account.plan.name} plan allows {allowed} custom models and all are "
                "registered. Remove one, or talk to us about Enterprise for unlimited models."
            )
        try:
            with transaction.atomic():
                model.save()
        except IntegrityError:
            raise ValidationError(f"{PREFIX}{name} is already registered.")
    return model


def custom_model_remove(*, workspace: Workspace, model_id: int) -> CustomModel:
    """Remove a registered model; past usage keeps its charges (they are in the ledger)."""
    model = CustomModel.objects.get(workspace=workspace, pk=model_id)
    model.delete()
    return model


def custom_models_state(workspace: Workspace) -> tuple[list[CustomModel], int | None, set[int]]:
    """(models, allowed, usable ids): for the page. allowed None means unlimited."""
    models = list(CustomModel.objects.filter(workspace=workspace).order_by("created_at", "id"))
    allowed = custom_models_allowed(workspace)
    usable = models if allowed is None else models[:allowed]
    return models, allowed, {m.id for m in usable}


def plans_with_custom_models() -> list[Plan]:
    """The public plans that run custom models, cheapest first (Pro: 5, Enterprise: any)."""
    plans = Plan.objects.filter(is_public=True).exclude(custom_models_allowed=0)
    return list(plans.order_by("sort_order", "price_cents"))


def allowance_text(allowed: int | None) -> str:
    return "any number" if allowed is None else f"up to {allowed}"


def plans_with_custom_models_sentence() -> str:
    """'Custom models come with Pro (up to 5) and Enterprise (any number).'"""
    parts = [f"{plan.name} ({allowance_text(plan.custom_models_allowed)})" for plan in plans_with_custom_models()]
    if not parts:
        return "No plan offers custom models just now."
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"Custom models come with {listed}."


def workspace_managers(workspace: Workspace) -> list[str]:
    """The e-mails of those who may change the plan: whom a member asks to upgrade."""
    memberships = Membership.objects.filter(workspace=workspace, role__in=(Role.OWNER, Role.ADMIN))
    people = memberships.values_list("role", "user__email")
    return [email for _, email in sorted(people, key=lambda p: (p[0] != Role.OWNER, p[1]))]  # owners first
