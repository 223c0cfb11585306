import secrets
from datetime import timedelta

from django import forms
from django.utils import timezone

EXPIRY_CHOICES = [("", "Never"), ("30", "In 30 days"), ("90", "In 90 days"), ("365", "In a year")]


def nonce_new():
    return secrets.token_urlsafe(24)


class KeyCreateForm(forms.Form):
    name = forms.CharField(
        max_length=80, help_text="So you can tell keys apart, e.g. “CI” or “Production”."
    )
    expires_in = forms.ChoiceField(choices=EXPIRY_CHOICES, required=False, label="Expires")
    # One value per rendered form: sending the same form twice makes one key (KeyAlreadyCreated).
    nonce = forms.CharField(
        min_length=16, max_length=64, widget=forms.HiddenInput,
        error_messages={"required": "The form was incomplete. Reload the page and create the key again.",
                        "min_length": "The form was incomplete. Reload the page and create the key again.",
                        "max_length": "The form was incomplete. Reload the page and create the key again."},
    )

    @classmethod
    def fresh(cls):
        return cls(initial={"nonce": nonce_new()})

    def nonce_value(self):
        """The nonce the rendered form carries: a refused form (nothing was created) keeps
        the one it was sent with, unless that one was missing or malformed."""
        if not self.is_bound:
            return self.initial["nonce"]
        return self.cleaned_data.get("nonce") or nonce_new()

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
