from decimal import Decimal

from django import forms

from billing.closing import volume_tiers_parse
from billing.countries import COUNTRIES
from billing.models import BillingAccount, BillingMode, Plan
from teams.models import Workspace


class PlanChoiceForm(forms.Form):
    plan = forms.ModelChoiceField(queryset=Plan.objects.filter(is_public=True), to_field_name="code")


class BillingModeForm(forms.Form):
    billing_mode = forms.ChoiceField(choices=BillingMode.choices, label="Billing mode")


class LowBalanceAlertForm(forms.Form):
    threshold = forms.IntegerField(
        min_value=0, required=False, label="Alert when the balance falls below (credits)",
        help_text="Empty: 10% of the last cycle's usage, or 100 credits on a first cycle.",
    )


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


TAX_ID_SHAPE = r"[A-Za-z0-9][A-Za-z0-9 .\-/]{1,30}"


class BillingDetailsForm(forms.Form):
    """Who invoices are made out to; every message says what to write instead."""

    legal_name = forms.CharField(
        max_length=200, label="Legal name",
        error_messages={"required": "Enter the company's or your legal name, as invoices should show it.",
                        "max_length": "The legal name is at most 200 characters."},
    )
    address = forms.CharField(
        max_length=500, label="Address", widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Street, postal code and city, as on a letter.",
        error_messages={"required": "Enter the billing address: street, postal code and city.",
                        "max_length": "The address is at most 500 characters."},
    )
    country = forms.ChoiceField(
        label="Country", choices=[("", "Choose a country")] + list(COUNTRIES),
        error_messages={"required": "Choose the country of the billing address.",
                        "invalid_choice": "Choose the country from the list."},
    )
    tax_id = forms.RegexField(
        regex=rf"\A{TAX_ID_SHAPE}\Z", required=False, max_length=32, label="Tax ID (optional)",
        help_text="VAT, GST or EIN number, e.g. DE123456789.",
        error_messages={"invalid": "A tax ID is 2 to 32 letters and digits (spaces, dots, dashes and "
                                   "slashes allowed), e.g. DE123456789.",
                        "max_length": "A tax ID is at most 32 characters."},
    )
    email = forms.EmailField(
        required=False, label="Billing e-mail (optional)",
        help_text="Where invoices are sent; empty: the owners' addresses.",
        error_messages={"invalid": "Enter a whole e-mail address, like billing@example.com."},
    )

    field_order = ["legal_name", "country", "address", "tax_id", "email"]
    AUTOCOMPLETE = {"legal_name": "organization", "address": "street-address", "country": "country",
                    "email": "email", "tax_id": "off"}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "billing-%s")
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.widget.attrs["autocomplete"] = self.AUTOCOMPLETE[name]
            if field.help_text:
                field.widget.attrs["aria-describedby"] = f"billing-{name}-help"

    def _post_clean(self):
        # A screen reader announces the field as invalid and reads its message.
        for name in self.errors:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                attrs["aria-invalid"] = "true"
                attrs["aria-describedby"] = " ".join(filter(None, [attrs.get("aria-describedby"), f"billing-{name}-error"]))

    def clean_legal_name(self):
        return _one_line(self.cleaned_data["legal_name"], "The legal name")

    def clean_address(self):
        lines = [line.strip() for line in self.cleaned_data["address"].splitlines() if line.strip()]
        if not lines:
            raise forms.ValidationError("Enter the billing address: street, postal code and city.")
        if len(lines) > 6:
            raise forms.ValidationError("The address fits in 6 lines or fewer.")
        return "\n".join(_one_line(line, "The address") for line in lines)

    def clean_tax_id(self):
        return " ".join(self.cleaned_data["tax_id"].split()).upper()


def _one_line(text, what):
    text = " ".join(text.split())
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise forms.ValidationError(f"{what} cannot hold control characters.")
    return text
