"""Billing pages of the paid side of plans: contact sales, auto-recharge, subscriptions."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from billing import recharge, subscriptions
from billing.checkout import checkout_return
from billing.forms import AutoRechargeForm, PlanChoiceForm, SalesRequestForm
from billing.payments import PaymentError, PaymentRejected
from billing.sales import sales_request_create
from config.flash import refusal_flashed
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
    with refusal_flashed(request):
        settings = recharge.auto_recharge_set(
            workspace=request.workspace, actor=request.user, enabled=data["enabled"],
            threshold_credits=data["threshold"], amount_credits=int(data["amount_usd"] * 100),
            monthly_cap=data["monthly_cap"],
        )
        if settings.enabled:
            messages.success(request, f"Auto-recharge is on: {settings.amount_credits:,} credits are added when the "
                                      f"balance falls below {settings.threshold_credits:,}, at most "
                                      f"{settings.monthly_cap} times a month.")
        else:
            messages.success(request, "Auto-recharge is off.")
    return _back_to_auto_recharge()


@manager_required
@require_POST
def plan_choose(request):
    """Upgrade or downgrade: Checkout for a first paid plan, else a change here."""
    form = PlanChoiceForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the plans listed.")
        return redirect("billing")
    plan = form.cleaned_data["plan"]
    with refusal_flashed(request):
        choice = subscriptions.plan_choose(
            workspace=request.workspace, plan=plan, actor=request.user, base_url=request.build_absolute_uri("/"),
        )
        if choice.checkout_url:
            return redirect(choice.checkout_url)
        if choice.change.kind == "upgraded":
            messages.success(request, f"{request.workspace.name} is now on {plan.name}; a new cycle started"
                                      + (" and its credits arrive when the invoice is paid." if plan.price_cents else "."))
        else:
            messages.success(request, f"{request.workspace.name} moves to {plan.name} on "
                                      f"{choice.change.effective_at:%d %b %Y}. You can cancel this until then.")
    return redirect("billing")


@manager_required
@require_POST
def downgrade_cancel(request):
    with refusal_flashed(request):
        plan = subscriptions.subscription_downgrade_cancel(workspace=request.workspace, actor=request.user)
        messages.success(request, f"Cancelled the move to {plan.name}; your plan stays as it is.")
    return redirect("billing")


@manager_required
def subscription_return(request):
    """Checkout's success URL: fulfil the session now (as the webhook will), then the page."""
    session_id = request.GET.get("session_id") or ""
    try:
        _, record = checkout_return(workspace=request.workspace, session_id=session_id)
    except (PaymentError, PaymentRejected) as error:
        messages.error(request, f"We could not confirm the subscription yet: {error} It is applied as soon as "
                                "our payment provider tells us.")
    else:
        if record is None:
            messages.error(request, "The payment did not go through, so your plan is unchanged. Try again or use another card.")
            return redirect("billing")
        plan = request.workspace.billing.plan
        messages.success(request, f"Welcome to {plan.name}: a new cycle started. Its included credits are added "
                                  "once the invoice is paid (see Recent credit movements).")
    return redirect("billing")
