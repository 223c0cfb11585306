from django import forms

from teams.models import Role
from teams.services import WORKSPACE_NAME_MAX


class InviteForm(forms.Form):
    email = forms.EmailField(label="E-mail address", max_length=254)
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.MEMBER)

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        # Only owners are offered the owner role; the service refuses it to others anyway.
        if viewer.role != Role.OWNER:
            self.fields["role"].choices = [c for c in Role.choices if c[0] != Role.OWNER]
        self.fields["email"].widget.attrs.update(placeholder="colleague@example.com", autocomplete="off")


class RenameForm(forms.Form):
    name = forms.CharField(label="Workspace name", max_length=WORKSPACE_NAME_MAX)
