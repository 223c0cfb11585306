from datetime import timedelta

from django import forms
from django.utils import timezone

EXPIRY_CHOICES = [("", "Never"), ("30", "In 30 days"), ("90", "In 90 days"), ("365", "In a year")]


class KeyCreateForm(forms.Form):
    name = forms.CharField(
        max_length=80, help_text="So you can tell keys apart, e.g. “CI” or “Production”."
    )
    expires_in = forms.ChoiceField(choices=EXPIRY_CHOICES, required=False, label="Expires")

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the key a name.")
        return name

    def expires_at(self):
        days = self.cleaned_data.get("expires_in")
        return timezone.now() + timedelta(days=int(days)) if days else None


class SpendCapForm(forms.Form):
    spend_cap = forms.IntegerField(
        required=False, min_value=1, max_value=10**12, label="Monthly spend cap (credits)",
        help_text="Leave empty for no cap. The cap resets when a billing cycle starts.",
    )
