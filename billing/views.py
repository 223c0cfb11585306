from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from billing import services
from billing.alerts import low_balance_threshold_set
from billing.details import billing_details_save
from billing.forms import BillingDetailsForm, BillingModeForm, LowBalanceAlertForm, OverageLimitForm
from billing.movements import ledger_csv_rows, ledger_page
from billing.page import billing_page_context
from billing.pdf import invoice_pdf
from config.csvexport import csv_streaming_response
from config.flash import refusal_flashed
from teams.decorators import manager_required, workspace_required


@workspace_required
def billing(request):
    return render(request, "billing/billing.html", billing_page_context(request.membership))


@workspace_required
def invoices(request):
    rows = request.workspace.invoices.order_by("-issued_on", "-number")
    return render(request, "billing/invoices.html", {"invoices": rows})


@manager_required
def ledger(request):
    """The full ledger, a page at a time (owners and admins, like the rest of the money)."""
    before = request.GET.get("before", "")
    page = ledger_page(request.workspace, before=int(before) if before.isdigit() else None)
    return render(request, "billing/ledger.html", {"ledger": page})


@manager_required
def ledger_csv(request):
    return csv_streaming_response(
        filename=f"ledger-{request.workspace.slug}.csv", rows=ledger_csv_rows(request.workspace)
    )


@workspace_required
def invoice_download(request, number):
    invoice = get_object_or_404(request.workspace.invoices.select_related("workspace"), number=number)
    response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
    return response


@manager_required
@require_POST
def billing_mode(request):
    form = BillingModeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose prepaid or pay-as-you-go.")
        return redirect("billing")
    with refusal_flashed(request):
        account = services.billing_mode_set(
            workspace=request.workspace, mode=form.cleaned_data["billing_mode"], actor=request.user
        )
        messages.success(request, f"Billing mode is now {account.get_billing_mode_display().lower()}.")
    return redirect("billing")


@manager_required
@require_POST
def low_balance_alert(request):
    form = LowBalanceAlertForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter the alert threshold as a whole number of credits, 0 or more, or leave it empty.")
        return redirect(f"{reverse('billing')}#alerts")
    credits = form.cleaned_data["threshold"]
    with refusal_flashed(request):
        low_balance_threshold_set(workspace=request.workspace, actor=request.user, credits=credits)
        messages.success(request, "Low-balance alert: the default threshold (10% of the last cycle's usage) applies."
                         if credits is None else f"Low-balance alert set: an e-mail when the balance falls below {credits:,} credits.")
    return redirect(f"{reverse('billing')}#alerts")


@manager_required
@require_POST
def overage_limit(request):
    form = OverageLimitForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter the overage limit as a whole number of credits, 0 or more.")
        return redirect("billing")
    credits = form.cleaned_data["overage_limit"]
    with refusal_flashed(request):
        services.overage_limit_set(workspace=request.workspace, credits=credits, actor=request.user)
        messages.success(
            request, f"Overage limit set to {credits:,} credits (USD {credits // 100:,}.{credits % 100:02d}) per cycle."
        )
    return redirect("billing")


@manager_required
@require_POST
def billing_details(request):
    """Save who invoices are made out to. Invalid input shows the Billing page again with
    what was typed and a message at each field; nothing is saved."""
    form = BillingDetailsForm(request.POST)
    if not form.is_valid():
        context = billing_page_context(request.membership)
        context["details_form"] = form
        return render(request, "billing/billing.html", context, status=400)
    billing_details_save(workspace=request.workspace, actor=request.user, **form.cleaned_data)
    messages.success(request, "Billing details saved. Invoices issued from now on show them.")
    return redirect("billing")
