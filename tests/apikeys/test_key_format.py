import re

import pytest
from django.db import connection

from apikeys.auth import InvalidApiKey, key_record_check
from apikeys.models import APIKey
from apikeys.secrets_format import KEY_PREFIX, secret_generate, secret_hash, secret_is_well_formed
from apikeys.services import key_create


def test_a_key_has_the_prefix_enough_randomness_and_a_checksum():
    secret = secret_generate(KEY_PREFIX)
    assert re.fullmatch(r"mdk_live_[0-9A-Za-z]{36}", secret)
    # 30 random base62 characters: log2(62) * 30 > 178 bits, well above 128.
    assert secret_is_well_formed(secret, KEY_PREFIX)
    assert len({secret_generate(KEY_PREFIX) for _ in range(1000)}) == 1000


@pytest.mark.parametrize("mangle", [
    lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"),  # checksum typo
    lambda s: s[:12] + ("x" if s[12] != "x" else "y") + s[13:],  # body typo
    lambda s: s[:-2],  # truncated
    lambda s: "mdk_test_" + s[len("mdk_live_"):],  # wrong prefix
    lambda s: s + "0",
    lambda s: s.replace(s[10], "-"),
])
def test_a_mistyped_key_is_not_well_formed(mangle):
    secret = secret_generate(KEY_PREFIX)
    assert not secret_is_well_formed(mangle(secret), KEY_PREFIX)


def test_a_key_with_a_bad_checksum_is_refused_without_any_query(django_assert_num_queries, workspace, owner):
    _key, secret = key_create(workspace=workspace, user=owner, name="CI")
    bad = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    with django_assert_num_queries(0):
        with pytest.raises(InvalidApiKey):
            key_record_check(bad)


def test_a_key_of_the_wrong_length_is_refused_before_it_is_hashed(monkeypatch, django_assert_num_queries, db):
    import apikeys.auth

    hashed = []
    monkeypatch.setattr(apikeys.auth, "secret_hash", lambda secret: hashed.append(secret) or "x")
    with django_assert_num_queries(0):
        for secret in ("mdk_live_" + "A" * 2_000_000, "mdk_live_short", ""):
            with pytest.raises(InvalidApiKey):
                key_record_check(secret)
    assert hashed == []


def test_the_database_holds_no_plaintext_key(workspace, owner, client_for):
    key, secret = key_create(workspace=workspace, user=owner, name="CI")
    response = client_for(owner).post("/settings/api-keys/new/", {"name": "Prod", "nonce": "prod-form-nonce-0001"})
    shown = re.search(r'value="(mdk_live_[0-9A-Za-z]{36})"', response.content.decode()).group(1)
    stored = APIKey.objects.get(pk=key.pk)
    assert stored.key_hash == secret_hash(secret) and stored.prefix == secret[:15]
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT * FROM {quoted}")
            for row in cursor.fetchall():
                text = " ".join(str(value) for value in row)
                assert secret not in text, table
                assert shown not in text, table
                assert secret[15:] not in text, table
