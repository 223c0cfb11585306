"""Billing pages of the paid side of plans: contact sales, auto-recharge, subscriptions."""

from django.contrib import messages
from django.shortcuts import redirect, render

from billing.forms import SalesRequestForm
from billing.sales import sales_request_create
from teams.decorators import manager_required


@manager_required
def contact_sales(request):
    form = SalesRequestForm(request.POST or None, initial={"company": request.workspace.name})
    if request.method == "POST" and form.is_valid():
        sales_request_create(workspace=request.workspace, user=request.user, **form.cleaned_data)
        messages.success(request, f"Thanks: our sales team will reply to {request.user.email} within one business day.")
        return redirect("billing")
    return render(request, "billing/contact_sales.html", {"form": form})
