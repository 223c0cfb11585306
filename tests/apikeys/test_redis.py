"""The limiter and the revocation marker on a real Redis (and PostgreSQL where noted)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from apikeys import keycache
from apikeys.ratelimit import LOG_KEY, ratelimit_hit, redis_client
from apikeys.services import key_create
from tests.factories import give_credits

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.redis

HITS = """
import django, json, os, sys
django.setup()
from apikeys.ratelimit import ratelimit_hit
allowed = sum(ratelimit_hit(int(sys.argv[1]), 10).allowed for _ in range(int(sys.argv[2])))
print(json.dumps(allowed))
"""


def _env(**extra):
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings", REDIS_URL=settings.REDIS_URL)
    env.update(extra)
    return env


def test_two_processes_share_one_limit():
    procs = [
        subprocess.Popen([sys.executable, "-c", HITS, "424242", "8"], cwd=ROOT, env=_env(),
                         stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    allowed = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert sum(allowed) == 10  # 16 tries from two processes, one limit of 10
    assert not ratelimit_hit(424242, 10).allowed


def test_the_sliding_log_always_has_an_expiry():
    ratelimit_hit(77, 10)
    ttl = redis_client().pttl(LOG_KEY.format(workspace_id=77))
    assert 0 < ttl <= 60_000


def test_at_most_n_in_any_rolling_window():
    # A 1-second window keeps the test short; production uses 60 s with the same script.
    admitted = []
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        decision = ratelimit_hit(78, 5, window_ms=1000)
        if decision.allowed:
            admitted.append(decision.now_ms)
    admitted.sort()
    assert len(admitted) >= 10  # slots free up again as the window slides
    for i in range(len(admitted) - 5):
        assert admitted[i + 5] - admitted[i] >= 1000


def test_the_limiter_survives_a_redis_that_forgot_the_script_or_dropped_the_connection():
    assert ratelimit_hit(79, 3).remaining == 2
    client = redis_client()
    client.script_flush()  # as after a Redis restart
    assert ratelimit_hit(79, 3).remaining == 1
    client.client_kill_filter(_type="normal", skipme=True)  # idle connections closed by Redis
    decision = ratelimit_hit(79, 3)
    assert decision.marker is not None  # answered by Redis, not failed open
    assert decision.remaining == 0
    assert not ratelimit_hit(79, 3).allowed


def test_redis_down_fails_open_and_logs(authorize, workspace, secret, settings, caplog):
    give_credits(workspace, 100)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    import apikeys.ratelimit as ratelimit

    ratelimit._last_failure_log = 0
    started = time.monotonic()
    responses = [authorize(secret) for _ in range(12)]
    assert [r.status_code for r in responses] == [200] * 12
    assert time.monotonic() - started < 10
    assert "rate limits fail open" in caplog.text


def test_redis_down_still_refuses_revoked_keys_and_empty_wallets(authorize, workspace, owner, settings):
    from apikeys.services import key_revoke
    from tests.apikeys.conftest import drain

    give_credits(workspace, 100)
    key, secret = key_create(workspace=workspace, user=owner, name="CI")
    assert authorize(secret).status_code == 200  # cached under the live marker
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    key_revoke(key=key, actor=owner)
    assert authorize(secret).status_code == 401
    _k2, secret2 = key_create(workspace=workspace, user=owner, name="CI 2")
    drain(workspace)
    assert authorize(secret2).status_code == 402


REVOKE = """
import django, sys
django.setup()
from apikeys.models import APIKey
from apikeys.services import key_revoke
key_revoke(key=APIKey.objects.get(public_id=sys.argv[1]), actor=None)
print("revoked")
"""


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # keeps the seeded plans
def test_a_revoke_in_another_process_is_seen_with_a_warm_cache(authorize, workspace, owner):
    give_credits(workspace, 100)
    key, secret = key_create(workspace=workspace, user=owner, name="CI")
    assert authorize(secret).status_code == 200
    assert keycache._entries, "the key should now be cached in this process"
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    done = subprocess.run([sys.executable, "-c", REVOKE, key.public_id], cwd=ROOT,
                          env=_env(DATABASE_URL=url), capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "revoked", done.stderr
    # This process never heard of the revoke except through Redis: its cache is warm.
    assert keycache._entries
    response = authorize(secret)
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"


def test_authorize_keeps_working_after_more_threads_than_the_pools_limit():
    """Each thread talks to Redis on its own connection; 150 threads that came and went
    (more than redis-py's 100 connections per pool) must not exhaust anything."""
    import threading

    from apikeys.ratelimit import redis_direct

    def ping(client, conn):
        conn.send_command("PING")
        return conn.read_response()

    answers = []
    for _ in range(3):
        threads = [threading.Thread(target=lambda: answers.append(redis_direct(ping))) for _ in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert answers == [b"PONG"] * 150
    assert ratelimit_hit(515151, 10).allowed
