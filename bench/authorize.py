"""Throughput and latency of POST /api/v1/gateway/authorize against a trivial JSON view.

    .venv/bin/python bench/authorize.py [--seconds 20] [--latency-seconds 20]

Starts the app under gunicorn (2 sync workers, DEBUG off) on PostgreSQL and Redis
(BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/meterdesk_bench, migrated
here; BENCH_REDIS_URL, default redis://127.0.0.1:6379/3), makes 8 workspaces with 4 keys
each and a service token, then drives authorize (keys taken round-robin) and
GET /api/v1/ping (the same app, middleware and server, no database) with wrk at 32
connections, then both again at 4 connections for latency. Prints requests/s, p50/p99 and
the ratios to the trivial view, then the rate limiter's own benchmark (bench/ratelimit.py).

The workspaces are on enterprise terms with a limit of 10^9 requests per minute: every
authorize runs the full rate-limit script (nothing is refused, so every answer is a 200).
"""

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    Server,
    bench_environment,
    database_prepare,
    django_setup,
    setup_print,
    table_print,
    wrk_run,
    wrk_script,
)

WORKSPACES = 8
KEYS_PER_WORKSPACE = 4


def fixtures_make():
    """Workspaces, keys and a service token in the bench database; returns the secrets."""
    from django.core.cache import cache

    from accounts.models import User
    from apikeys.services import key_create, service_token_create
    from billing.ledger import ledger_post
    from billing.models import BillingAccount, EntryKind, Plan
    from billing.money import MICRO
    from teams.services import workspace_create

    cache.clear()  # the bench Redis DB: old sliding logs and markers go
    enterprise = Plan.objects.get(code="enterprise")
    owner, _ = User.objects.get_or_create(email="bench-owner@meterdesk.test")
    secrets = []
    for n in range(WORKSPACES):
        workspace = workspace_create(owner=owner, name=f"Bench {n}")
        BillingAccount.objects.filter(workspace=workspace).update(
            plan=enterprise, custom_requests_per_minute=10**9
        )
        ledger_post(workspace=workspace, kind=EntryKind.ADJUSTMENT, amount_micro=10**9 * MICRO,
                    memo="bench credits")
        for k in range(KEYS_PER_WORKSPACE):
            secrets.append(key_create(workspace=workspace, user=owner, name=f"bench {k}")[1])
    _token, token = service_token_create(name="bench")
    return token, secrets


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20, help="each run at 32 connections")
    parser.add_argument("--latency-seconds", type=int, default=20, help="each run at 4 connections")
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    args = parser.parse_args()

    env = bench_environment()
    database_prepare(env)
    django_setup(env)
    token, secrets = fixtures_make()
    authorize = wrk_script(
        "POST",
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        [json.dumps({"api_key": secret}) for secret in secrets],
    )
    ping = wrk_script("GET")

    setup_print(env, f"{len(secrets)} keys in {WORKSPACES} workspaces, round-robin")
    results = []
    with Server(env, port=args.port) as server:
        # Warm both routes (imports, connections, caches) before measuring.
        wrk_run("warm", f"{server.url}/api/v1/ping", ping, connections=4, seconds=2)
        wrk_run("warm", f"{server.url}/api/v1/gateway/authorize", authorize, connections=4, seconds=2)
        for connections, seconds in ((32, args.seconds), (4, args.latency_seconds)):
            results.append(wrk_run("ping", f"{server.url}/api/v1/ping", ping,
                                   connections=connections, seconds=seconds))
            results.append(wrk_run("authorize", f"{server.url}/api/v1/gateway/authorize",
                                   authorize, connections=connections, seconds=seconds))
    print()
    table_print(results, "ping")
    bad = sum(r.bad for r in results)
    if bad:
        print(f"\n{bad} answers were not 2xx or failed: the figures above are not valid.")

    from bench.ratelimit import report

    print()
    over = report(env, 5, threads=1) + report(env, 5, threads=4)
    return 1 if bad or over else 0


if __name__ == "__main__":
    os.chdir(Path(__file__).resolve().parents[1])
    sys.exit(main())
