from decimal import Decimal

from django import forms

from billing.closing import volume_tiers_parse
from billing.models import BillingAccount, BillingMode, Plan
from teams.models import Workspace


class PlanChoiceForm(forms.Form):
    plan = forms.ModelChoiceField(queryset=Plan.objects.filter(is_public=True), to_field_name="code")


class BillingModeForm(forms.Form):
    billing_mode = forms.ChoiceField(choices=BillingMode.choices, label="Billing mode")


class OverageLimitForm(forms.Form):
    overage_limit = forms.IntegerField(
        min_value=0, label="Overage limit (credits per cycle)",
        help_text="Requests are refused with 402 once usage past your credits reaches this.",
    )


NO_LIMIT = (
    "{plan} lets usage go past the credits, so it needs an overage limit (credits per cycle): "
    "every plan that may overspend has one, and reaching it refuses requests with 402."
)


class PlanAdminForm(forms.ModelForm):
    class Meta:
        model = Plan
        fields = "__all__"

    def clean(self):
        data = super().clean()
        if data.get("overage_allowed") and data.get("default_overage_limit") is None:
            self.add_error("default_overage_limit", NO_LIMIT.format(plan=data.get("name") or "This plan"))
        return data


class BillingAccountAdminForm(forms.ModelForm):
    class Meta:
        model = BillingAccount
        fields = "__all__"

    def clean(self):
        data = super().clean()
        plan = data.get("plan")
        if (plan is not None and plan.overage_allowed and data.get("overage_limit") is None
                and plan.default_overage_limit is None):
            self.add_error("overage_limit", NO_LIMIT.format(plan=plan.name))
        return data

    def clean_volume_tiers(self):
        raw = self.cleaned_data.get("volume_tiers") or []
        if not isinstance(raw, list):
            raise forms.ValidationError('Volume tiers are a list, e.g. [{"above": 1000000, "discount_percent": "10"}].')
        try:
            volume_tiers_parse(raw)
        except ValueError as error:
            raise forms.ValidationError(str(error))
        return raw


class AdjustmentForm(forms.Form):
    """Staff adjustment: credits to add (positive) or remove (negative), with the reason."""

    workspace = forms.ModelChoiceField(queryset=Workspace.objects.order_by("name"))
    credits = forms.DecimalField(
        max_digits=18, decimal_places=6,
        help_text="Positive adds credits, negative removes them (up to 6 decimal places).",
    )
    memo = forms.CharField(max_length=200, help_text="Why: shown on the customer's Billing page.")

    def clean_credits(self):
        value = self.cleaned_data["credits"]
        if value == Decimal(0):
            raise forms.ValidationError("An adjustment of zero credits changes nothing.")
        return value


class SalesRequestForm(forms.Form):
    company = forms.CharField(max_length=120, label="Company")
    volume = forms.CharField(
        max_length=120, label="Expected monthly volume",
        help_text="For example: 2 million pages, or USD 20,000 of usage.",
    )
    message = forms.CharField(
        max_length=4000, label="What do you need?", widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Compliance, deployment, rate limits, volume pricing…",
    )


class AutoRechargeForm(forms.Form):
    enabled = forms.BooleanField(required=False, label="Recharge automatically")
    threshold = forms.IntegerField(
        min_value=0, max_value=1_000_000, label="When the balance falls below (credits)",
    )
    amount_usd = forms.DecimalField(
        min_value=5, max_value=10_000, max_digits=7, decimal_places=2, label="Add (USD)",
        help_text="USD 5 to 10,000; 1 credit = USD 0.01.",
    )
    monthly_cap = forms.IntegerField(min_value=1, max_value=100, label="At most, per calendar month (UTC)")


class BuyCreditsForm(forms.Form):
    """A pack (its credits) or any amount in US dollars, USD 5 to 10,000."""

    pack = forms.IntegerField(required=False, min_value=1)
    amount_usd = forms.DecimalField(required=False, min_value=5, max_value=10_000, decimal_places=2,
                                    label="Amount (USD)")
    save_card = forms.BooleanField(required=False, label="Keep this card for later payments")

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if data.get("pack"):
            data["credits"] = data["pack"]
        elif data.get("amount_usd") is not None:
            data["credits"] = int(data["amount_usd"] * 100)  # 1 credit = 1 US cent
        else:
            raise forms.ValidationError("Choose a pack or enter an amount from USD 5 to USD 10,000.")
        return data

    def error_sentence(self):
        if "amount_usd" in self.errors:
            return "Enter an amount from USD 5 to USD 10,000, in dollars and cents."
        return "Choose a pack or enter an amount from USD 5 to USD 10,000."
