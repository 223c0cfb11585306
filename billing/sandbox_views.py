"""The sandbox's checkout page (development only): what Stripe's Checkout is in production."""

from django.conf import settings
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from billing import sandbox


@require_http_methods(["GET", "POST"])
def sandbox_checkout(request, session_id):
    if not settings.PAYMENTS_SANDBOX:
        raise Http404("The payment sandbox is off.")
    try:
        session = sandbox.get(session_id)
    except sandbox.SandboxError:
        raise Http404("No such sandbox checkout.")
    if request.method == "POST":
        card = request.POST.get("card")
        card = card if card in sandbox.TEST_CARDS else "pm_sandbox_visa"
        decline = request.POST.get("outcome") == "decline"
        return redirect(sandbox.checkout_complete(session_id, card_id=card, decline=decline))
    return render(request, "billing/sandbox_checkout.html", {
        "session": session, "cards": sandbox.TEST_CARDS,
        "amount_cents": session.get("amount_subtotal") or 0,
    })
