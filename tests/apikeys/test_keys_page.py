import re

from apikeys.models import APIKey
from apikeys.services import key_create, key_spend_add

PAGE = "/settings/api-keys/"
SECRET = re.compile(r"mdk_live_[0-9A-Za-z]{36}")


def test_empty_state_tells_what_to_do(client_for, member):
    response = client_for(member).get(PAGE)
    assert response.status_code == 200
    assert "No keys yet" in response.content.decode()


def test_it_lists_keys_with_prefix_creator_and_credits_this_cycle(client_for, workspace, owner, member):
    key, _ = key_create(workspace=workspace, user=owner, name="Production")
    key_spend_add(key, 12_345_678)
    html = client_for(member).get(PAGE).content.decode()
    assert "Production" in html and f"<code>{key.prefix}…</code>" in html
    assert "owner@example.com" in html and "12.35" in html and "Active" in html
    assert not SECRET.search(html)


def form_nonce(html):
    return re.search(r'name="nonce" value="([^"]+)"', html).group(1)


def test_member_creates_a_key_and_sees_the_secret_exactly_once(client_for, workspace, member):
    client = client_for(member)
    nonce = form_nonce(client.get(PAGE).content.decode())
    response = client.post("/settings/api-keys/new/", {"name": "My laptop", "expires_in": "30", "nonce": nonce})
    assert response.status_code == 201
    html = response.content.decode()
    secret = SECRET.search(html).group(0)
    assert f"export METERDESK_API_KEY={secret}" in html
    assert "will not be shown again" in html and 'data-copy="new-key-secret"' in html
    assert "no-store" in response["Cache-Control"].split(", ")
    key = APIKey.objects.get(workspace=workspace)
    assert key.created_by == member and key.expires_at is not None
    assert secret not in client.get(PAGE).content.decode()


def test_a_key_without_a_name_is_not_created(client_for, member):
    response = client_for(member).post("/settings/api-keys/new/", {"name": "  ", "nonce": "n" * 32})
    assert response.status_code == 400
    assert not APIKey.objects.exists()


def test_the_same_create_form_sent_twice_makes_one_key_and_says_so(client_for, workspace, member):
    client = client_for(member)
    nonce = form_nonce(client.get(PAGE).content.decode())
    first = client.post("/settings/api-keys/new/", {"name": "Twice", "nonce": nonce})
    assert first.status_code == 201
    assert form_nonce(first.content.decode()) != nonce  # the next key gets a fresh form

    again = client.post("/settings/api-keys/new/", {"name": "Twice", "nonce": nonce})
    assert again.status_code in (302, 303) and again["Location"] == PAGE
    html = client.get(PAGE).content.decode()
    assert "This key was already created" in html and not SECRET.search(html)
    assert APIKey.objects.filter(workspace=workspace).count() == 1


def test_a_create_form_without_its_nonce_creates_nothing(client_for, workspace, member):
    response = client_for(member).post("/settings/api-keys/new/", {"name": "Scripted"})
    assert response.status_code == 400
    assert "Reload the page" in response.content.decode()
    assert not APIKey.objects.exists()


def test_member_revokes_their_own_key(client_for, workspace, member):
    key, _ = key_create(workspace=workspace, user=member, name="Mine")
    response = client_for(member).post(f"/settings/api-keys/{key.public_id}/revoke/", follow=True)
    key.refresh_from_db()
    assert key.revoked_at is not None and key.revoked_by == member
    assert "Revoked “Mine”" in response.content.decode()


def test_member_cannot_revoke_others_key(client_for, workspace, owner, member):
    key, _ = key_create(workspace=workspace, user=owner, name="Owner's")
    response = client_for(member).post(f"/settings/api-keys/{key.public_id}/revoke/")
    assert response.status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None


def test_admin_revokes_anyones_key(client_for, workspace, owner, admin_user):
    key, _ = key_create(workspace=workspace, user=owner, name="Owner's")
    client_for(admin_user).post(f"/settings/api-keys/{key.public_id}/revoke/")
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_revoke_dialog_names_the_key(client_for, workspace, member):
    key, _ = key_create(workspace=workspace, user=member, name="Mine")
    html = client_for(member).get(PAGE).content.decode()
    assert f'<dialog id="revoke-{key.public_id}"' in html
    assert "Revoking <strong>Mine</strong>" in html and "immediately" in html


def test_admin_sets_and_clears_a_spend_cap(client_for, workspace, member, admin_user):
    key, _ = key_create(workspace=workspace, user=member, name="CI")
    client = client_for(admin_user)
    client.post(f"/settings/api-keys/{key.public_id}/spend-cap/", {"spend_cap": "500"})
    key.refresh_from_db()
    assert key.spend_cap_credits == 500
    client.post(f"/settings/api-keys/{key.public_id}/spend-cap/", {"spend_cap": ""})
    key.refresh_from_db()
    assert key.spend_cap_credits is None


def test_member_cannot_set_a_spend_cap_even_on_their_own_key(client_for, workspace, member):
    key, _ = key_create(workspace=workspace, user=member, name="CI")
    response = client_for(member).post(f"/settings/api-keys/{key.public_id}/spend-cap/", {"spend_cap": "5"})
    assert response.status_code == 403
    key.refresh_from_db()
    assert key.spend_cap_credits is None


def test_a_bad_spend_cap_changes_nothing(client_for, workspace, member, owner):
    key, _ = key_create(workspace=workspace, user=member, name="CI")
    response = client_for(owner).post(
        f"/settings/api-keys/{key.public_id}/spend-cap/", {"spend_cap": "-3"}, follow=True
    )
    assert "Spend cap not changed" in response.content.decode()
    key.refresh_from_db()
    assert key.spend_cap_credits is None


def test_another_workspaces_key_ids_are_404(client_for, workspace, owner, outsider):
    key, _ = key_create(workspace=workspace, user=owner, name="Acme key")
    client = client_for(outsider)
    assert "Acme key" not in client.get(PAGE).content.decode()
    assert client.post(f"/settings/api-keys/{key.public_id}/revoke/").status_code == 404
    assert client.post(f"/settings/api-keys/{key.public_id}/spend-cap/", {"spend_cap": "1"}).status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None and key.spend_cap_credits is None


def test_logged_out_visitors_are_sent_to_log_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
