"""What the Billing page shows: plan, balance, cycle, movements, and which actions the
viewer may take (owners and admins only)."""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings

from billing.alerts import auto_recharge_healthy, default_threshold_micro, low_threshold_micro
from billing.cards import workspace_card
from billing.models import Alert, AlertSettings, AutoRecharge, BillingMode, CreditPack, EntryKind, Plan, RechargeAttempt, Subscription
from billing.recharge import recharges_this_month
from billing.details import billing_details_of, country_name
from billing.forms import BillingDetailsForm
from billing.movements import RECENT_DAYS, movements_recent
from billing.selectors import balance_summary, workspace_has_saved_card
from billing.services import overage_limit_max, plan_rank
from billing.subscriptions import ENDED


def _plan_limits(plan, account=None):
    rpm = account.requests_per_minute if account else plan.requests_per_minute
    included = account.included_credits if account else plan.included_credits
    return [
        ("Included credits", f"{included:,} per cycle" if included else "None"),
        ("One-time credits", f"{plan.one_time_credits:,} at sign-up" if plan.one_time_credits else "—"),
        ("Rate limit", f"{rpm:,} requests/min" if rpm else "No limit"),
        ("Custom models", "Pre-configured only" if plan.custom_models_allowed == 0
         else "Unlimited" if plan.custom_models_allowed is None else f"Up to {plan.custom_models_allowed}"),
        ("Request metadata", f"Kept {plan.metadata_retention_days} days" if plan.metadata_retention_days
         else "Never stored"),
        ("Billing", plan.billing_summary),
        ("Support", plan.support),
        ("Compliance", plan.compliance),
        ("Deployments", plan.deployments),
        ("Service level", plan.service_level),
        ("Data retention", plan.data_retention),
    ]


RECHARGE_ATTEMPTS_SHOWN = 50

# usage draws charts from its roll-ups, and billing may not import usage (docs/architecture.md):
# usage registers the function when it loads.
_consumption_chart = None


def consumption_chart_register(function):
    """`function(workspace, *, start, end)` → a plotly figure dict of credits used per day, or None."""
    global _consumption_chart
    _consumption_chart = function


def _cycle_chart(workspace, cycle):
    """Every day of the current cycle (days still to come are empty), so the bars show where
    in the cycle the workspace is."""
    if _consumption_chart is None:
        return None
    return _consumption_chart(workspace, start=cycle.start.date(), end=(cycle.end - timedelta(microseconds=1)).date())


def _auto_recharge_context(workspace, account):
    settings = AutoRecharge.objects.filter(workspace=workspace).first() or AutoRecharge(workspace=workspace)
    return {
        "auto_recharge": settings,
        "auto_recharge_amount_usd": str(Decimal(settings.amount_credits) / 100),
        "auto_recharge_offered": not account.may_overspend,
        "recharge_attempts": list(RechargeAttempt.objects.filter(workspace=workspace)[:RECHARGE_ATTEMPTS_SHOWN]),
        "recharges_this_month": recharges_this_month(workspace.pk),
    }


def _billing_details_context(workspace, can_manage):
    details = billing_details_of(workspace)
    initial = {}
    if details is not None:
        initial = {"legal_name": details.legal_name, "address": details.address, "country": details.country,
                   "tax_id": details.tax_id, "email": details.email}
    return {
        "billing_details": details,
        "billing_details_country": country_name(details.country) if details else "",
        "details_form": BillingDetailsForm(initial=initial) if can_manage else None,
    }


ALERTS_SHOWN = 10


def _alerts_context(workspace):
    settings = AlertSettings.objects.filter(workspace=workspace).first()
    return {
        "alert_threshold_own": settings.low_balance_credits if settings else None,
        "alert_threshold_micro": low_threshold_micro(workspace.pk, settings=settings),
        "alert_threshold_default_micro": default_threshold_micro(workspace.pk),
        "alert_muted_by_recharge": auto_recharge_healthy(workspace.pk),
        "alerts_recent": list(Alert.objects.filter(workspace=workspace)[:ALERTS_SHOWN]),
    }


def billing_page_context(membership):
    workspace = membership.workspace
    summary = balance_summary(workspace)
    account = summary.account
    can_manage = membership.is_manager
    subscription = Subscription.objects.filter(workspace=workspace).exclude(status__in=ENDED).first()
    options = []
    for plan in Plan.objects.filter(is_public=True).exclude(pk=account.plan_id):
        upgrade = plan_rank(plan) > plan_rank(account.plan)
        options.append({
            "plan": plan, "upgrade": upgrade, "contact_sales": plan.price_is_custom,
            "checkout": upgrade and bool(plan.price_cents) and subscription is None,
            "scheduled": account.scheduled_plan_id == plan.pk,
        })
    return {
        "summary": summary,
        "account": account,
        "plan": account.plan,
        "plan_limits": _plan_limits(account.plan, account),
        "plan_options": options,
        "movements": movements_recent(workspace),
        "movements_days": RECENT_DAYS,
        "can_manage": can_manage,
        "payg": account.billing_mode == BillingMode.PAY_AS_YOU_GO,
        "mode_choices": BillingMode.choices,
        "shows_mode": not account.plan.overage_allowed,
        "limit_editable": can_manage and account.may_overspend and not account.plan.price_is_custom,
        "overage_limit_max": overage_limit_max(account),
        "has_card": workspace_has_saved_card(workspace),
        "card": workspace_card(workspace),
        "packs": list(CreditPack.objects.filter(is_active=True)),
        "sandbox": settings.PAYMENTS_SANDBOX,
        "recent_invoices": list(workspace.invoices.order_by("-issued_on", "-number")[:3]),
        "entry_kinds": EntryKind,
        "chart": _cycle_chart(workspace, summary.cycle),
        "subscription": subscription,
        **_auto_recharge_context(workspace, account),
        **_billing_details_context(workspace, can_manage),
        **_alerts_context(workspace),
    }
