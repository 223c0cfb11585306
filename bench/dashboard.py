"""The dashboard, Usage, API Keys and Billing pages and the usage API at a big customer's volume.

    .venv/bin/python bench/dashboard.py [--events 10000000] [--requests 200]

Recreates BENCH_DATABASE_URL (default meterdesk_bench_dashboard; the name must hold
"bench") and loads, with COPY (bench/loading.py: shapes priced by the real pricing, their
ledger charges, balances, usage day totals and key spends; the two tables' secondary
indexes and constraints set aside during the first COPY and built after it), `--events`
usage events over
the 90 days before today for one workspace ("big", 10 keys), 1,000 events over the same
days for a small one (2 keys), and `--noise-events` spread over `--noise-workspaces` others
(1 key each), all in time order. Both measured workspaces are on the pro plan with a
cycle that started 20 days ago. Then, timed:

  full roll-up      rollup_run(full=True) as of today's midnight (every day of every workspace)
  one more day      `--day-events` events of today for the big workspace (and a day's share
                    of the noise) loaded, then the incremental rollup_run() at now
  pages / API       gunicorn (2 sync workers, DEBUG off, bench/common.py) serves /, /usage/,
                    /settings/api-keys/, /settings/billing/ as the workspace's owner and
                    GET /api/v1/usage?group_by=day|key|product with its key; `--requests`
                    sequential requests each after 20 of warm-up, p50/p95 (ms), for the big
                    and the small workspace in the same run. The pages' roll-up request
                    goes to the broker with no worker (none runs during the measurement)
  fresh numbers     one real gateway charge for the big workspace; the next dashboard load
                    and usage API call must show it
  cycle close       cycle_close of the big workspace's cycle at its end

and prints a table against the targets of issue 15, then checks every balance and usage
day total against the ledger.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    Server,
    bench_environment,
    database_prepare,
    django_setup,
    machine_summary,
)
from bench.loading import Stream, day_start, days_ago, event_shapes, usage_history_copy  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/meterdesk_bench_dashboard"
DAYS = 90
CYCLE_DAYS_AGO = 20
BIG_KEYS = 10
SMALL_EVENTS = 1000
START_CREDITS = 10**9
PAGES = [
    ("dashboard", "/"),
    ("usage page", "/usage/"),
    ("API keys", "/settings/api-keys/"),
    ("billing", "/settings/billing/"),
]
API = [(f"api by {g}", f"/api/v1/usage?group_by={g}") for g in ("day", "key", "product")]
WARMUP = 20
FIGURE = re.compile(r"data-cycle-used[^>]*>(.*?)</(?:p|span)>", re.S)


def _timed(label, fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    seconds = time.perf_counter() - start
    print(f"  {label}: {seconds:.1f} s", flush=True)
    return result, seconds


# --- fixtures -------------------------------------------------------------------------------

def _workspace(owner, name, *, keys, now):
    """A pro workspace whose cycle began CYCLE_DAYS_AGO days ago, with credits and keys."""
    from apikeys.services import key_create
    from billing.cycles import cycle_bounds, cycle_open
    from billing.ledger import ledger_post
    from billing.models import BillingAccount, BillingCycle, EntryKind, Plan
    from billing.money import MICRO
    from teams.services import workspace_create

    workspace = workspace_create(owner=owner, name=name)
    BillingCycle.objects.filter(workspace=workspace).delete()
    account = BillingAccount.objects.get(workspace=workspace)
    account.plan = Plan.objects.get(code="pro")
    account.cycle_anchor_day = (now - timedelta(days=CYCLE_DAYS_AGO)).day
    account.unlimited_rate = True
    account.save()
    start, end = cycle_bounds(account.cycle_anchor_day, now)
    cycle = cycle_open(account=account, start=start, end=end)
    ledger_post(workspace=workspace, kind=EntryKind.ADJUSTMENT, amount_micro=START_CREDITS * MICRO,
                memo="bench credits", at=now - timedelta(days=DAYS + 1))
    made = [key_create(workspace=workspace, user=owner, name=f"key {n}") for n in range(keys)]
    return workspace, cycle, made


def fixtures_make(noise_workspaces, now):
    from accounts.models import User
    from apikeys.services import key_create, service_token_create
    from teams.services import workspace_create

    big_owner = User.objects.create(email="big@dashboard.bench")
    small_owner = User.objects.create(email="small@dashboard.bench")
    noise_owner = User.objects.create(email="noise@dashboard.bench")
    big = _workspace(big_owner, "Big customer", keys=BIG_KEYS, now=now)
    small = _workspace(small_owner, "Small customer", keys=2, now=now)
    noise = []
    for n in range(noise_workspaces):
        workspace = workspace_create(owner=noise_owner, name=f"Noise {n}")
        noise.append((workspace, key_create(workspace=workspace, user=noise_owner, name="noise")[0]))
    _token, token = service_token_create(name="dashboard bench")
    return big_owner, big, small_owner, small, noise, token


def shapes_make(key, now):
    """The demo's product mix (usage.demo): a few hundred bodies, priced for real."""
    import random

    from usage.demo import _event

    rng = random.Random(20261128)
    bodies = []
    for n in range(400):
        body = _event(rng, now.date(), n, key)
        body.pop("id"), body.pop("key_id")
        bodies.append(body)
    return event_shapes(key, bodies, now=now)


def streams_for(big, small, noise, *, start, end, big_events, small_events, noise_events, tag):
    streams = [
        Stream(big[0].pk, [k.pk for k, _ in big[2]], big_events, start, end, f"{tag}b_"),
    ]
    if small_events:
        streams.append(Stream(small[0].pk, [k.pk for k, _ in small[2]], small_events, start, end, f"{tag}s_"))
    per = noise_events // max(len(noise), 1)
    for n, (workspace, key) in enumerate(noise):
        count = per + (1 if n < noise_events - per * len(noise) else 0)
        if count:
            streams.append(Stream(workspace.pk, [key.pk], count, start, end, f"{tag}n_"))
    return streams


# --- measuring ------------------------------------------------------------------------------

def session_cookie(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return "; ".join(f"{name}={morsel.value}" for name, morsel in client.cookies.items())


def fetch(url, headers, data=None):
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, response.read()


def latencies(url, headers, count):
    for _ in range(WARMUP):
        fetch(url, headers)
    times = []
    for _ in range(count):
        began = time.perf_counter()
        status, _body = fetch(url, headers)
        times.append((time.perf_counter() - began) * 1000)
        if status != 200:
            raise RuntimeError(f"{url} answered {status}")
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def cycle_figure(html):
    [text] = FIGURE.findall(html)
    amount = re.search(r"\d[\d,]*\.\d+", re.sub(r"<[^>]+>", "", text)).group(0)
    return Decimal(amount.replace(",", ""))


def fresh_check(base, cookie, secret, token, key):
    """A real gateway charge shows at the very next dashboard load and usage API call."""
    from django.utils import timezone

    today = timezone.now().date().isoformat()
    page = {"Cookie": cookie}
    api = {"Authorization": f"Bearer {secret}"}
    day_url = f"{base}/api/v1/usage?group_by=day&start={today}&end={today}"
    before_page = cycle_figure(fetch(f"{base}/", page)[1].decode())
    [before_day] = json.loads(fetch(day_url, api)[1])["rows"]
    body = json.dumps({"id": "fresh_check_1", "key_id": key.public_id, "product": "document.invoice",
                       "tier": "auto", "quantity": {"pages": 3}, "status_code": 200}).encode()
    status, answer = fetch(f"{base}/api/v1/gateway/usage",
                           {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}, body)
    charged = Decimal(json.loads(answer)["charged"])
    after_page = cycle_figure(fetch(f"{base}/", page)[1].decode())
    [after_day] = json.loads(fetch(day_url, api)[1])["rows"]
    ok = (
        status == 200
        and after_page - before_page == charged.quantize(Decimal("0.01"))
        and after_day["requests"] == before_day["requests"] + 1
        and Decimal(after_day["credits"]) - Decimal(before_day["credits"]) == charged
    )
    return ok, (f"charged {charged}; dashboard {before_page} -> {after_page}; today's requests "
                f"{before_day['requests']:,} -> {after_day['requests']:,}")


def sizes():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0].split(" on ")[0]
        # A partitioned table's own size is 0: its partitions hold the rows.
        cursor.execute("SELECT pg_size_pretty((SELECT SUM(pg_total_relation_size(relid))"
                       " FROM pg_partition_tree('usage_usageevent'))),"
                       " pg_size_pretty(pg_total_relation_size('billing_ledgerentry')),"
                       " pg_size_pretty(pg_database_size(current_database()))")
        events, ledger, database = cursor.fetchone()
    return version, events, ledger, database


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000, help="the big workspace's 90 days")
    parser.add_argument("--day-events", type=int, help="the one more day (default: a tenth of --events)")
    parser.add_argument("--noise-workspaces", type=int, default=1000)
    parser.add_argument("--noise-events", type=int, help="over all noise workspaces (default: a tenth of --events)")
    parser.add_argument("--requests", type=int, default=200, help="measured requests per page and workspace")
    args = parser.parse_args()
    day_events = args.day_events or max(args.events // 10, 1000)
    noise_events = args.noise_events if args.noise_events is not None else args.events // 10

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    env = bench_environment(database_url=url)
    env["CELERY_TASK_ALWAYS_EAGER"] = "0"  # the roll-up runs in a worker, never in a request
    print(f"Machine: {machine_summary()}; database {url}; Redis {env['REDIS_URL']}", flush=True)
    print("Preparing:", flush=True)
    _timed("database made and migrated", database_prepare, env)
    # DEBUG off serves hashed static files: their manifest must exist, as after a deploy.
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], env=env, check=True)
    django_setup(env)

    from django.db import connection
    from django.utils import timezone

    from billing.closing import cycle_close
    from billing.ledger import ledger_mismatches, usage_day_mismatches
    from usage.rollup import rollup_run

    now = timezone.now()
    today = day_start(now.date())
    (big_owner, big, small_owner, small, noise, token), _ = _timed(
        f"fixtures (2 measured workspaces, {args.noise_workspaces:,} noise workspaces)",
        fixtures_make, args.noise_workspaces, now)
    shapes = shapes_make(big[2][0][0], now)
    history = streams_for(big, small, noise, start=days_ago(DAYS, now=now), end=today,
                          big_events=args.events, small_events=SMALL_EVENTS,
                          noise_events=noise_events, tag="h")
    totals, load_seconds = _timed(
        f"COPY of {args.events + SMALL_EVENTS + noise_events:,} events over {DAYS} days and their charges",
        usage_history_copy, url, history, shapes, bulk=True)
    with connection.cursor() as cursor:
        _timed("VACUUM ANALYZE (as autovacuum would after a load)", cursor.execute, "VACUUM ANALYZE")

    print("Roll-ups:", flush=True)
    full_days, full_seconds = _timed("full roll-up", rollup_run, now=today, full=True)
    one_day = streams_for(big, small, noise, start=today, end=timezone.now(), big_events=day_events,
                          small_events=0, noise_events=noise_events // DAYS, tag="d")
    _timed(f"COPY of today's {day_events + noise_events // DAYS:,} events", usage_history_copy, url, one_day, shapes,
           progress_every=0)
    day_pairs, day_seconds = _timed("incremental roll-up", rollup_run)

    print("Pages and API (gunicorn, 2 sync workers):", flush=True)
    rows = []
    with Server(env) as server:
        for label, owner, (workspace, _cycle, keys) in (("big", big_owner, big), ("small", small_owner, small)):
            cookie = session_cookie(owner)
            secret = keys[0][1]
            for name, path in PAGES:
                rows.append((name, label, *latencies(server.url + path, {"Cookie": cookie}, args.requests)))
            for name, path in API:
                rows.append((name, label, *latencies(server.url + path, {"Authorization": f"Bearer {secret}"},
                                                     args.requests)))
            print(f"  {label} measured", flush=True)
        fresh_ok, fresh_text = fresh_check(server.url, session_cookie(big_owner), big[2][0][1], token, big[2][0][0])

    cycle = big[1]
    close, close_seconds = _timed("cycle close of the big workspace", cycle_close, cycle_id=cycle.pk, at=cycle.end)
    version, events_size, ledger_size, database_size = sizes()

    print()
    print(f"Ran against {version}: {totals.events:,} events loaded ({events_size} with indexes), "
          f"ledger {ledger_size}, database {database_size}; big workspace {args.events:,} events "
          f"+ {day_events:,} today, {BIG_KEYS} keys; small {SMALL_EVENTS:,}; "
          f"{args.noise_workspaces:,} noise workspaces, {noise_events:,} events.")
    print(f"COPY load: {load_seconds:.0f} s ({totals.events / load_seconds:,.0f} events/s, with their "
          f"{totals.charges:,} ledger rows)")
    print()
    print(f"{'case':<14} {'workspace':<9} {'p50 ms':>8} {'p95 ms':>8} {'p95 vs small':>13}")
    small_p95 = {name: p95 for name, label, _p50, p95 in rows if label == "small"}
    checks = []
    for name, label, p50, p95 in rows:
        ratio = p95 / small_p95[name] if label == "big" else 1
        print(f"{name:<14} {label:<9} {p50:>8.1f} {p95:>8.1f} {ratio:>12.1f}x")
        if label == "big":
            checks.append((f"{name} p95 < 100 ms and <= 2x small", f"{p95:.1f} ms, {ratio:.1f}x",
                           p95 < 100 and ratio <= 2))
    checks += [
        (f"incremental roll-up of {day_events:,} events < 10 s", f"{day_seconds:.1f} s ({day_pairs} days)",
         day_seconds < 10),
        (f"full roll-up of {totals.events:,} events < 120 s", f"{full_seconds:.1f} s ({full_days} days)",
         full_seconds < 120),
        ("cycle close of the big workspace < 2 s", f"{close_seconds:.2f} s (closed: {close.closed})",
         close_seconds < 2),
        ("a charge shows at the next request", fresh_text, fresh_ok),
    ]
    print()
    for label, value, ok in checks:
        print(f"{'PASS' if ok else 'MISS'}  {label}: {value}")
    problems = ledger_mismatches() + usage_day_mismatches()
    print()
    print("Ledger check: " + ("every balance and usage day total equals its ledger." if not problems
                              else f"FAILED {problems[:10]}"))
    return 1 if problems else 0


if __name__ == "__main__":
    os.chdir(Path(__file__).resolve().parents[1])
    sys.exit(main())
