"""Pages that take money: buy credits, Pay now, the card on file, the payment's return page,
and Stripe's webhook. Thin: each calls one function of billing.checkout / billing.cards."""

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from billing import checkout, payments
from billing.cards import card_remove
from billing.forms import BuyCreditsForm
from billing.models import PaymentStatus
from billing.payments import WebhookSignatureError
from billing.selectors import balance_summary
from billing.webhooks import webhook_receive
from config.flash import refusal_flashed
from teams.decorators import manager_required, workspace_required

RETRY_AFTER_SECONDS = 60


def _base_url(request):
    return request.build_absolute_uri("/")


def _to_checkout(request, start):
    """Send the customer to Checkout (Stripe's, or the sandbox's); a refusal stays here."""
    with refusal_flashed(request):
        return redirect(start())
    return redirect("billing")


@manager_required
@require_POST
def credits_buy(request):
    form = BuyCreditsForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.error_sentence())
        return redirect("billing")
    return _to_checkout(request, lambda: checkout.credits_checkout_start(
        workspace=request.workspace, credits=form.cleaned_data["credits"], actor=request.user,
        base_url=_base_url(request), save_card=form.cleaned_data["save_card"],
    ))


@manager_required
@require_POST
def invoice_pay(request, number):
    invoice = get_object_or_404(request.workspace.invoices, number=number)
    return _to_checkout(request, lambda: checkout.invoice_checkout_start(
        workspace=request.workspace, invoice=invoice, actor=request.user, base_url=_base_url(request),
    ))


@workspace_required
@require_GET
def payment_detail(request, pk):
    payment = get_object_or_404(request.workspace.payments.select_related("invoice"), pk=pk)
    problem = checkout.payment_refresh(payment)
    left = request.GET.get("cancelled") == "1" and payment.status == PaymentStatus.PENDING
    return render(request, "billing/payment.html", {
        "payment": payment, "problem": problem, "left_checkout": left,
        "summary": balance_summary(request.workspace), "statuses": PaymentStatus,
    })


@manager_required
@require_POST
def card_add(request):
    return _to_checkout(request, lambda: checkout.card_checkout_start(
        workspace=request.workspace, actor=request.user, base_url=_base_url(request),
    ))


@manager_required
@require_GET
def card_saved(request):
    with refusal_flashed(request):
        _session, card = checkout.checkout_return(
            workspace=request.workspace, session_id=request.GET.get("session_id", "")
        )
        if card is None:
            messages.info(request, "The card is not saved yet; it appears here as soon as Stripe confirms it.")
        else:
            messages.success(request, f"Saved {card}, expiring {card.expiry}. It is now used for every payment.")
    return redirect("billing")


@manager_required
@require_POST
def card_delete(request):
    with refusal_flashed(request):
        card = card_remove(workspace=request.workspace, actor=request.user)
        messages.success(request, f"Removed {card}. Nothing will be charged to it any more.")
    return redirect("billing")


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """POST /billing/stripe/webhook/: verify, record, handle once (billing.webhooks)."""
    try:
        event = payments.webhook_event_parse(payload=request.body, signature=request.headers.get("Stripe-Signature"))
    except WebhookSignatureError as error:
        return JsonResponse({"error": {"code": "invalid_signature", "message": str(error)}}, status=400)
    row = webhook_receive(event)
    body = {"received": True, "status": row.status, "duplicate": row.duplicate}
    if row.status == "failed":
        response = JsonResponse(body, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return JsonResponse(body)


