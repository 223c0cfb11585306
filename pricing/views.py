"""Pages of the price catalog: public /pricing with its estimator, and a workspace's custom models."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from teams.decorators import manager_required, workspace_required
from pricing.custom_models import (
    allowance_text,
    custom_model_register,
    custom_model_remove,
    custom_models_state,
    plans_with_custom_models,
    workspace_managers,
)
from pricing.models import CustomModel
from pricing.comparison import inference_comparison
from pricing.events import TIERS
from pricing.estimator import INSTANCE_CHOICES, PRODUCTS, UNIT_CHOICES, estimate_from_query
from pricing.price_tables import plans_table, pricing_tables


@require_GET
def pricing(request):
    """Everyone's pricing page; an htmx request for an estimate gets only the estimate."""
    estimate = estimate_from_query(request.GET)
    if request.htmx:
        response = render(request, "pricing/_estimate.html", {"estimate": estimate})
    else:
        response = render(request, "pricing/pricing.html", {
            **pricing_tables(), **plans_table(), "estimate": estimate,
            "estimator_products": PRODUCTS, "estimator_units": UNIT_CHOICES,
            "estimator_instances": INSTANCE_CHOICES, "comparison": inference_comparison(), "tiers": TIERS,
        })
    patch_vary_headers(response, ("HX-Request",))
    return response


@workspace_required
@require_http_methods(["GET", "POST"])
def custom_models(request):
    """Owners and admins register custom models; members see the list read-only."""
    if request.method == "POST":
        if not request.membership.is_manager:
            messages.error(request, "Only owners and admins can register custom models.")
            return redirect("custom_models")
        name = request.POST.get("name", "")
        try:
            model = custom_model_register(workspace=request.workspace, name=name, user=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Registered {model.product}. Send it as the product of an event.")
        return redirect("custom_models")
    models, allowed, usable = custom_models_state(request.workspace)
    return render(request, "pricing/custom_models.html", {
        "models": models, "allowed": allowed, "usable": usable,
        "at_limit": allowed is not None and len(models) >= allowed,
        "can_manage": request.membership.is_manager,
        "plan": request.workspace.billing.plan,
        "upgrade_plans": [
            {"plan": plan, "allowance": allowance_text(plan.custom_models_allowed)}
            for plan in plans_with_custom_models()
        ],
        "managers": workspace_managers(request.workspace),
    })


@manager_required
@require_POST
def custom_model_delete(request, model_id):
    try:
        model = custom_model_remove(workspace=request.workspace, model_id=model_id)
    except CustomModel.DoesNotExist:
        raise Http404("No such custom model in this workspace.")
    messages.success(request, f"Removed {model.product}. New requests for it are refused as unknown_product.")
    return redirect("custom_models")
