from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from apikeys.forms import KeyCreateForm, SpendCapForm
from apikeys.selectors import key_may_revoke, keys_for_page
from apikeys.services import KeyAlreadyCreated, key_create, key_revoke, key_spend_cap_set
from billing.selectors import cycle_usage
from teams.decorators import manager_required, workspace_required


def _page(request, *, form=None, new_secret=None, new_key=None, status=200):
    usage = cycle_usage(request.workspace.pk)
    return render(
        request,
        "apikeys/keys.html",
        {
            "keys": keys_for_page(request.workspace, cycle_start_at=usage.window.start),
            "cycle_usage": usage,
            "form": form or KeyCreateForm.fresh(),
            "new_secret": new_secret,
            "new_key": new_key,
            "can_manage": request.membership.is_manager,
        },
        status=status,
    )


@never_cache
@workspace_required
def keys_list(request):
    return _page(request)


@never_cache
@require_POST
@workspace_required
def keys_create(request):
    form = KeyCreateForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    try:
        key, secret = key_create(
            workspace=request.workspace, user=request.user, name=form.cleaned_data["name"],
            expires_at=form.expires_at(), nonce=form.cleaned_data["nonce"],
        )
    except KeyAlreadyCreated:
        # A reload or second click sent this form again. The secret was in the first
        # answer only, so there is nothing to show again: say so and leave the POST.
        messages.info(
            request,
            "This key was already created. Its secret was shown once, when it was made; "
            "if you did not copy it, revoke that key and create a new one.",
        )
        return redirect("apikeys:list")
    messages.success(request, f"Created the key “{key.name}”. Copy it now: it will not be shown again.")
    # The one answer that is not a redirect: the secret is rendered here only (never
    # stored, not even in the session), and no cache may keep this page.
    response = _page(request, new_secret=secret, new_key=key, status=201)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@workspace_required
def keys_revoke(request, public_id):
    key = get_object_or_404(request.workspace.api_keys, public_id=public_id)
    if not key_may_revoke(request.membership, key):
        raise PermissionDenied("Only owners and admins can revoke another member's key.")
    if key_revoke(key=key, actor=request.user, membership=request.membership):
        messages.success(request, f"Revoked “{key.name}”. Requests that use it are refused from now on.")
    else:
        messages.info(request, f"“{key.name}” was already revoked.")
    return redirect("apikeys:list")


@require_POST
@manager_required
def keys_spend_cap(request, public_id):
    key = get_object_or_404(request.workspace.api_keys, public_id=public_id)
    form = SpendCapForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Spend cap not changed: {' '.join(form.errors.get('spend_cap', []))}")
        return redirect("apikeys:list")
    credits = form.cleaned_data["spend_cap"]
    key_spend_cap_set(key=key, credits=credits, membership=request.membership)
    if credits is None:
        messages.success(request, f"Removed the spend cap of “{key.name}”.")
    else:
        messages.success(request, f"“{key.name}” may now spend up to {credits:,} credits per billing cycle.")
    return redirect("apikeys:list")
