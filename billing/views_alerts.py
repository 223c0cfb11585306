"""Each person's own alert e-mails: which kinds they receive (every workspace of theirs)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from billing.alerts import alert_opt_outs, alert_opt_outs_set
from billing.models import AlertKind

ALERT_HELP = {
    AlertKind.LOW_BALANCE: "The balance falls below the workspace's threshold (set on the Billing page); once per crossing.",
    AlertKind.ZERO_BALANCE: "A prepaid balance reaches zero and requests are refused until credits are added.",
    AlertKind.OVERAGE_80: "Overage reaches 80% of the workspace's overage limit; once per cycle.",
    AlertKind.OVERAGE_100: "Overage reaches the limit and requests are refused; once per cycle.",
    AlertKind.USAGE_SPIKE: "A day's usage is over 3× its 7-day average; names the products and keys that grew.",
}


@login_required
def alert_preferences(request):
    if request.method == "POST":
        wanted = set(request.POST.getlist("kinds"))
        muted = alert_opt_outs_set(user=request.user, muted_kinds=set(AlertKind.values) - wanted)
        on = len(AlertKind.values) - len(muted)
        messages.success(request, f"Alert e-mails saved: {on} of {len(AlertKind.values)} on.")
        return redirect("alert_preferences")
    muted = alert_opt_outs(request.user)
    kinds = [{"value": kind.value, "label": kind.label, "help": ALERT_HELP[kind], "on": kind.value not in muted}
             for kind in AlertKind]
    return render(request, "billing/alert_preferences.html", {"kinds": kinds})
