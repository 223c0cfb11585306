"""Usage events by the ten million: the partitioned table against the unpartitioned one.

    .venv/bin/python bench/partitions.py load [--events 10000000]   # the partitioned database
    .venv/bin/python bench/partitions.py flat      # a copy of it, unpartitioned (timed)
    .venv/bin/python bench/partitions.py convert   # a copy of the flat one, converted by migration 0007 (timed)
    .venv/bin/python bench/partitions.py reads [--database NAME] [--seconds 10]
    BENCH_DATABASE_URL=...NAME .venv/bin/python bench/usage.py --keep-database   # ingestion on it

`load` recreates BENCH_DATABASE_URL (default meterdesk_bench_10m; the name must hold
"bench"), migrates it (so the events table is partitioned by month) and fills it inside
PostgreSQL (INSERT … SELECT over generate_series, in chunks of a million, no Python per
row): `--events` events spread evenly over the 13 months before now, in time order as a
gateway sends them, over 200 background workspaces of 2 keys each, one of which ("big")
has a tenth of all events; rows shaped like the usage call's (a 1-page document.invoice
with its breakdown, price versions and stored answer). Then the keys of the last 35 days,
the daily roll-ups (one GROUP BY) with the roll-up watermark at now, and ANALYZE. No
ledger rows: these workspaces are background, the bench's own workspaces are made fresh
by each bench/usage.py run, whose balance check stays exact.

`flat` copies that database (CREATE DATABASE … TEMPLATE) into NAME_flat and turns its
events table back into one table with migration 0007's reverse; `convert` copies NAME_flat
into NAME_conv and runs the migration's forward conversion on it: how long a deploy of 0007
holds the table for this many rows.

`reads` times, in this process against the database given (default: the loaded one), the
reads that touch usage events for the big workspace and a small one: the usage API
(GET /api/v1/usage, through the test client: roll-ups plus the events since the watermark),
the dashboard's "has usage" and recent events, finding an event by id (recent and 11 months
old), the stored answers of 1000 replayed ids, an incremental roll-up run, one day's
roll-up of the big workspace and the retention purge; each run 20 times after a warm-up:
the median wall time and the mean CPU time of this process plus its PostgreSQL backend
(CPU stays meaningful on a busy box, wall time does not). Then wrk on GET /api/v1/usage for 10 s at
8 connections (gunicorn, 2 sync workers).
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    Server,
    bench_environment,
    database_prepare,
    django_setup,
    wrk_run,
    wrk_script,
)

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/meterdesk_bench_10m"
WORKSPACES = 200
KEYS_PER_WORKSPACE = 2
CHUNK = 1_000_000
SPAN_DAYS = 395  # 13 months


def _url():
    return os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)


def _with_name(url, name):
    return urlparse(url)._replace(path=f"/{name}").geturl()


def _name(url):
    return urlparse(url).path.lstrip("/")


def _admin(url):
    import psycopg

    return psycopg.connect(_with_name(url, "postgres"), autocommit=True)


def _timed(label, fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    print(f"{label}: {time.perf_counter() - start:.1f} s", flush=True)
    return result


# --- load -----------------------------------------------------------------------------------

def fixtures_make():
    from accounts.models import User
    from apikeys.services import key_create
    from teams.services import workspace_create

    owner, _ = User.objects.get_or_create(email="bench-partitions@meterdesk.test")
    keys = []
    for n in range(WORKSPACES):
        workspace = workspace_create(owner=owner, name=f"Partition bench {n}", slug=f"partition-bench-{n}")
        for k in range(KEYS_PER_WORKSPACE):
            keys.append((workspace.pk, key_create(workspace=workspace, user=owner, name=f"bench {k}")[0].pk))
    return keys


# One row per g: workspace g % 10 == 0 -> the big one (index 0), else one of the others;
# received_at moves evenly from `start` to now as g grows.
_EVENTS_SQL = """
INSERT INTO usage_usageevent (
  workspace_id, key_id, event_id, product, tier, grounding, quantity, lines, status_code,
  queue_seconds, occurred_at, received_at, charged_at, touched_at, price_versions, breakdown,
  charged_micro, billed, not_billed_reason, unpriced_reason, body_hash, response_status,
  response, metadata, metadata_expires_at)
SELECT k.ws, k.key, 'bg_' || g, 'document.invoice', 'auto', false, '{"pages": "1"}', NULL, 200,
  '', t.at, t.at, t.at, t.at, '[1]'::jsonb, %(breakdown)s::jsonb, 2000000, true, '', '',
  md5(g::text) || md5((g + 1)::text), 200,
  jsonb_build_object('id', 'bg_' || g, 'billed', true, 'charged', '2.000000', 'usd', '0.020000',
                     'breakdown', %(breakdown)s::jsonb, 'balance', '9998.000000'),
  NULL, NULL
FROM generate_series(%(first)s::bigint, %(last)s::bigint) g
CROSS JOIN LATERAL (SELECT %(start)s::timestamptz
                    + (g - 1) * (%(span)s::interval / %(total)s::bigint) AS at) t
JOIN (SELECT row_number() OVER (ORDER BY ws, key) - 1 AS n, ws, key
      FROM unnest(%(ws)s::bigint[], %(keys)s::bigint[]) AS x(ws, key)) k
  ON k.n = CASE WHEN g %% 10 = 0 THEN g %% %(per_ws)s
                ELSE %(per_ws)s + g %% (%(count)s - %(per_ws)s) END
"""

_BREAKDOWN = ('[{"meter": "pages", "unit": "page", "quantity": "1", "unit_price": "2", '
              '"cost": "2.000000", "price_id": 1}]')


def months_make():
    """The partitions of the months the events will fill (the migration made only this
    month's and three ahead; back-dated rows would all land in the default partition)."""
    from dateutil.relativedelta import relativedelta
    from django.utils import timezone

    from usage import partitions

    month = partitions.month_start(timezone.now() - timedelta(days=SPAN_DAYS))
    while month <= timezone.now():
        partitions.partition_create(month)
        month += relativedelta(months=1)


def events_load(cursor, keys, total):
    from django.utils import timezone

    now = timezone.now()
    start = now - timedelta(days=SPAN_DAYS)
    params = dict(
        breakdown=_BREAKDOWN, start=start, span=timedelta(days=SPAN_DAYS), total=total,
        ws=[ws for ws, _k in keys], keys=[key for _ws, key in keys],
        per_ws=KEYS_PER_WORKSPACE, count=len(keys),
    )
    for first in range(1, total + 1, CHUNK):
        last = min(first + CHUNK - 1, total)
        began = time.perf_counter()
        cursor.execute(_EVENTS_SQL, dict(params, first=first, last=last))
        print(f"  events {first:,}-{last:,}: {time.perf_counter() - began:.1f} s", flush=True)


def keys_and_rollups(cursor):
    cursor.execute(
        "INSERT INTO usage_usageeventkey (workspace_id, event_id, received_at)"
        " SELECT workspace_id, event_id, received_at FROM usage_usageevent"
        " WHERE received_at >= date_trunc('day', now() - interval '35 days')")
    cursor.execute(
        "INSERT INTO usage_dailyusage (workspace_id, day, key_id, product, requests, billed_requests,"
        " quantity, credits_micro)"
        " SELECT workspace_id, (received_at AT TIME ZONE 'UTC')::date, key_id, product, count(*),"
        " count(*), jsonb_build_object('pages', count(*)::text), sum(charged_micro)"
        " FROM usage_usageevent GROUP BY 1, 2, 3, 4")
    cursor.execute(
        "INSERT INTO usage_rollupstate (name, watermark, last_run_at, last_days)"
        " VALUES ('daily', now(), now(), 0)"
        " ON CONFLICT (name) DO UPDATE SET watermark = now(), last_run_at = now()")


def load(args):
    from django.db import connection

    env = bench_environment(database_url=_url())
    _timed("database made and migrated", database_prepare, env)
    django_setup(env)
    keys = _timed("workspaces and keys", fixtures_make)
    _timed("a partition per month of the span", months_make)
    with connection.cursor() as cursor:
        _timed(f"{args.events:,} events", events_load, cursor, keys, args.events)
        _timed("keys of 35 days, roll-ups", keys_and_rollups, cursor)
        _timed("ANALYZE", cursor.execute, "ANALYZE")
    sizes()


def sizes():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM usage_usageevent")
        events = cursor.fetchone()[0]
        cursor.execute("SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c"
                       " WHERE c.relname LIKE 'usage_usageevent%%' AND c.relkind IN ('r', 'p')"
                       " AND c.relname NOT LIKE 'usage_usageeventkey%%'")
        size = cursor.fetchone()[0]
        cursor.execute("SELECT count(*), pg_size_pretty(pg_total_relation_size('usage_usageeventkey'))"
                       " FROM usage_usageeventkey")
        key_rows, key_size = cursor.fetchone()
    print(f"{events:,} events ({size} with indexes); {key_rows:,} keys ({key_size})")


# --- flat / convert -------------------------------------------------------------------------

def _migration():
    import importlib

    return importlib.import_module("usage.migrations.0007_event_keys_and_partitions")


def copy_and_rebuild(source, target, *, partitioned):
    from django.db import connection, transaction
    from django.utils import timezone

    with _admin(_url()) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        _timed(f"copy {source} -> {target}", admin.execute, f'CREATE DATABASE "{target}" TEMPLATE "{source}"')
    env = bench_environment(database_url=_with_name(_url(), target))
    django_setup(env)
    migration = _migration()
    with transaction.atomic(), connection.cursor() as cursor:
        what = "partitioned (migration 0007)" if partitioned else "unpartitioned (0007's reverse)"
        _timed(f"events table rebuilt {what}", lambda: migration._rebuild(
            cursor, partitioned=partitioned, now=timezone.now()))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE usage_usageevent")
    sizes()


# --- reads ----------------------------------------------------------------------------------

def _backend_pid():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _backend_cpu(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cost_ms(fn, runs=20):
    """(median wall ms, mean CPU ms of this process plus its PostgreSQL backend) of fn()."""
    fn()
    pid = _backend_pid()
    cpu_before = time.process_time() + _backend_cpu(pid)
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        times.append((time.perf_counter() - began) * 1000)
    cpu = time.process_time() + _backend_cpu(pid) - cpu_before
    return statistics.median(times), 1000 * cpu / runs


def reads(args):
    name = args.database or _name(_url())
    env = bench_environment(database_url=_with_name(_url(), name))
    env["ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
    django_setup(env)
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from apikeys.services import key_create
    from teams.models import Workspace
    from usage import partitions, pgwrite, reports
    from usage.models import UsageEvent
    from usage.rollup import _rows, rollup_run, usage_purge
    print(f"{name}: events table {'partitioned' if partitions.events_partitioned() else 'unpartitioned'}")
    big = Workspace.objects.get(slug="partition-bench-0")
    small = Workspace.objects.get(slug="partition-bench-7")
    owner = big.memberships.first().user
    secret = key_create(workspace=big, user=owner, name="reads")[1]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    recent_id = UsageEvent.objects.filter(workspace=big).order_by("-received_at").values_list(
        "event_id", flat=True)[500]
    old_id = UsageEvent.objects.filter(
        workspace=big, received_at__lt=timezone.now() - timedelta(days=330)).order_by(
        "-received_at").values_list("event_id", flat=True)[0]
    replays = set(UsageEvent.objects.filter(workspace=big).order_by("-received_at").values_list(
        "workspace_id", "event_id")[:1000])

    day = (timezone.now() - timedelta(days=3)).date()
    day_rows = UsageEvent.objects.filter(workspace=big, received_at__date=day).count()

    def api(query):
        response = client.get(f"/api/v1/usage{query}")
        assert response.status_code == 200, response.content[:300]

    cases = [
        ("GET /api/v1/usage (30 days by day), big", lambda: api("")),
        ("GET /api/v1/usage (400 days by product), big",
         lambda: api(f"?start={(timezone.now() - timedelta(days=399)).date()}&group_by=product")),
        ("dashboard: has usage, small", lambda: UsageEvent.objects.filter(workspace=small).exists()),
        ("recent 10 events, big", lambda: reports.recent_events(big)),
        ("recent 10 events, small", lambda: reports.recent_events(small)),
        ("event by id, 2 days old, big", lambda: reports.event_lookup(big, recent_id)),
        ("event by id, 11 months old, big", lambda: reports.event_lookup(big, old_id)),
        ("stored answers of 1000 ids", lambda: pgwrite.stored_answers(replays)),
        ("roll-up run, nothing new", lambda: rollup_run()),
        (f"roll-up of one day, big ({day_rows} events)", lambda: _rows([(big.pk, day)], timezone.now())),
        ("retention purge, nothing due", lambda: usage_purge()),
    ]
    print(f"{'read':<46} {'wall ms':>9} {'CPU ms':>8}")
    for label, fn in cases:
        wall, cpu = _cost_ms(fn)
        print(f"{label:<46} {wall:>9.2f} {cpu:>8.2f}", flush=True)
    connection.close()

    script = wrk_script("GET", {"Authorization": f"Bearer {secret}"})
    with Server(env) as server:
        wrk_run("warm", f"{server.url}/api/v1/usage", script, connections=4, seconds=2)
        result = wrk_run("usage API", f"{server.url}/api/v1/usage", script, connections=8,
                         seconds=args.seconds)
    print(f"wrk GET /api/v1/usage (big workspace, 8 conns): {result.rps:.0f} req/s, "
          f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, bad {result.bad}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    loading = sub.add_parser("load")
    loading.add_argument("--events", type=int, default=10_000_000)
    sub.add_parser("flat")
    sub.add_parser("convert")
    reading = sub.add_parser("reads")
    reading.add_argument("--database", help="default: the loaded database")
    reading.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    name = _name(_url())
    if "bench" not in name:
        raise SystemExit(f"Refusing to use database {name!r}: its name must contain 'bench'.")
    if args.command == "load":
        load(args)
    elif args.command == "flat":
        copy_and_rebuild(name, f"{name}_flat", partitioned=False)
    elif args.command == "convert":
        copy_and_rebuild(f"{name}_flat", f"{name}_conv", partitioned=True)
    else:
        reads(args)


if __name__ == "__main__":
    main()
