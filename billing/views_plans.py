"""Billing pages of the paid side of plans: contact sales, auto-recharge, subscriptions."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from billing import recharge
from billing.forms import AutoRechargeForm, SalesRequestForm
from billing.sales import sales_request_create
from billing.services import BillingError
from teams.decorators import manager_required


def _back_to_auto_recharge():
    return redirect(reverse("billing") + "#auto-recharge")


@manager_required
def contact_sales(request):
    form = SalesRequestForm(request.POST or None, initial={"company": request.workspace.name})
    if request.method == "POST" and form.is_valid():
        sales_request_create(workspace=request.workspace, user=request.user, **form.cleaned_data)
        messages.success(request, f"Thanks: our sales team will reply to {request.user.email} within one business day.")
        return redirect("billing")
    return render(request, "billing/contact_sales.html", {"form": form})


@manager_required
@require_POST
def auto_recharge(request):
    form = AutoRechargeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Check the auto-recharge fields: " + " ".join(
            f"{form.fields[name].label}: {' '.join(errors)}" for name, errors in form.errors.items()))
        return _back_to_auto_recharge()
    data = form.cleaned_data
    try:
        settings = recharge.auto_recharge_set(
            workspace=request.workspace, actor=request.user, enabled=data["enabled"],
            threshold_credits=data["threshold"], amount_credits=int(data["amount_usd"] * 100),
            monthly_cap=data["monthly_cap"],
        )
    except BillingError as error:
        messages.error(request, str(error))
    else:
        if settings.enabled:
            messages.success(request, f"Auto-recharge is on: {settings.amount_credits:,} credits are added when the "
                                      f"balance falls below {settings.threshold_credits:,}, at most "
                                      f"{settings.monthly_cap} times a month.")
        else:
            messages.success(request, "Auto-recharge is off.")
    return _back_to_auto_recharge()
