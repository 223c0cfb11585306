"""Throughput and latency of POST /api/v1/gateway/usage against a trivial JSON view.

    .venv/bin/python bench/usage.py [--seconds 15] [--latency-seconds 15] [--cpu] [--keep-database]

Built like bench/authorize.py (bench/common.py): gunicorn with 2 sync workers, DEBUG off,
on PostgreSQL and Redis (BENCH_DATABASE_URL / BENCH_REDIS_URL), wrk as the separate, light
load process. 100 workspaces with 4 keys each and a service token are made fresh each run.
Every event is `document.invoice`, 1 page on auto (2 credits); ids are unique per run
and wrk sends 5% of events twice (the same id and body again: a replay that must charge
nothing). Cases:

  ping        GET /api/v1/ping, the same app and server without a database (the baseline)
  floor       POST /bench/floor (bench/views.py): one single-row INSERT committed per request
              and nothing else, the least a request that keeps something can cost (context
              for the spread ratio, not a target)
  spread      single events at 32 connections, spread over the 100 workspaces
  one-ws      single events at 32 connections, ALL on one workspace (its 4 keys)
  batch100    {"events": [100 events]} mixing workspaces, 8 connections
  batch1000   {"events": [1000 events]} mixing workspaces, 4 connections
  ping/spread again at 4 connections, for latency

Afterwards it checks, for every workspace, that the balance equals its starting credits
minus 2 credits per stored event, to the micro-credit; that the ledger holds exactly one
usage row per stored event (no replay charged twice); and that the balance shards add up
to the ledger. It prints events/s, p50/p99 and the ratios to the targets of issue 5.
With --keep-database the bench database is used as it is (not recreated): the fresh
workspaces are added next to whatever it holds (bench/partitions.py's 10 million events).
With --cpu it also prints, per case, the CPU time the gunicorn workers, PostgreSQL and Redis
spent per request (read from /proc before and after the case: every such process on the
machine, so run it on a quiet one) and how busy the cores were.
"""

import argparse
import os
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    WRK_DONE,
    Server,
    bench_environment,
    cpu_reading,
    cpu_used_between,
    database_prepare,
    django_setup,
    free_port,
    setup_print,
    wrk_run,
    wrk_script,
)

WORKSPACES = 100
KEYS_PER_WORKSPACE = 4
START_CREDITS = 10**9
CREDITS_PER_EVENT = 2


def fixtures_make():
    """Fresh workspaces (enterprise terms, no rate limit), keys and a token; returns them."""
    from accounts.models import User
    from apikeys.services import key_create, service_token_create
    from billing.ledger import ledger_post
    from billing.models import BillingAccount, EntryKind, Plan
    from billing.money import MICRO
    from teams.services import workspace_create

    enterprise = Plan.objects.get(code="enterprise")
    owner, _ = User.objects.get_or_create(email="bench-usage@meterdesk.test")
    run = uuid.uuid4().hex[:6]
    workspaces = []
    for n in range(WORKSPACES):
        workspace = workspace_create(owner=owner, name=f"Usage bench {run} {n}")
        BillingAccount.objects.filter(workspace=workspace).update(plan=enterprise, unlimited_rate=True)
        ledger_post(workspace=workspace, kind=EntryKind.ADJUSTMENT, amount_micro=START_CREDITS * MICRO,
                    memo="bench credits")
        keys = [key_create(workspace=workspace, user=owner, name=f"bench {k}")[0].public_id
                for k in range(KEYS_PER_WORKSPACE)]
        workspaces.append((workspace, keys))
    _token, token = service_token_create(name=f"usage bench {run}")
    return run, token, workspaces


def _lua_list(values):
    return "{" + ",".join(f'"{v}"' for v in values) + "}"


def usage_script(token, keys, prefix, batch=None):
    """wrk Lua: unique ids per thread; every 20th event repeats the previous one (5%)."""
    head = wrk_script("POST", {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    head = head.replace(WRK_DONE, "")
    lua = head + f"""
local keys = {_lua_list(keys)}
counter = 0
last = nil
nthreads = 0
tid = 0
setup = function(thread) nthreads = nthreads + 1; thread:set("tid", nthreads) end
local function one()
  counter = counter + 1
  if last ~= nil and counter % 20 == 0 then return last end
  local key = keys[(counter % #keys) + 1]
  last = '{{"id":"{prefix}' .. tostring(tid) .. '_' .. counter .. '","key_id":"' .. key ..
    '","product":"document.invoice","tier":"auto","quantity":{{"pages":1}},"status_code":200}}'
  return last
end
"""
    if batch:
        lua += f"""
request = function()
  local parts = {{}}
  for n = 1, {batch} do parts[n] = one() end
  return wrk.format(nil, nil, nil, '{{"events":[' .. table.concat(parts, ",") .. ']}}')
end
"""
    else:
        lua += "request = function() return wrk.format(nil, nil, nil, one()) end\n"
    return lua + WRK_DONE


def balances_check(workspaces):
    """Every workspace's balance == start − 2 credits per stored event, exactly; one charge each."""
    from billing.ledger import ledger_sum, workspace_balance
    from billing.models import EntryKind, LedgerEntry
    from billing.money import MICRO
    from usage.models import UsageEvent

    problems, events = [], 0
    for workspace, _keys in workspaces:
        stored = UsageEvent.objects.filter(workspace=workspace, billed=True).count()
        charges = LedgerEntry.objects.filter(workspace=workspace, kind=EntryKind.USAGE).count()
        expected = (START_CREDITS - CREDITS_PER_EVENT * stored) * MICRO
        balance = workspace_balance(workspace.pk)
        events += stored
        if charges != stored:
            problems.append(f"{workspace.slug}: {charges} usage ledger rows for {stored} events")
        if balance != expected or balance != ledger_sum(workspace.pk):
            problems.append(f"{workspace.slug}: balance {balance} != expected {expected} "
                            f"(ledger {ledger_sum(workspace.pk)})")
    return events, problems


def cpu_print(results, cpu):
    """CPU milliseconds per request of each process kind, and how busy the 2 cores were."""
    print()
    print("CPU per request (a batch's request carries its 100 or 1000 events):")
    print(f"{'case':<10} {'conns':>5} {'gunicorn ms':>12} {'postgres ms':>12} {'redis ms':>9} {'busy':>6}")
    for result, _per in results:
        used, busy = cpu[(result.name, result.connections)]
        per = {kind: 1000 * used.get(kind, 0) / max(result.requests, 1) for kind in ("gunicorn", "postgres", "redis")}
        print(f"{result.name:<10} {result.connections:>5} {per['gunicorn']:>12.3f} {per['postgres']:>12.3f} "
              f"{per['redis']:>9.3f} {busy:>6.0%}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15, help="each throughput run")
    parser.add_argument("--latency-seconds", type=int, default=15, help="each run at 4 connections")
    parser.add_argument("--cpu", action="store_true", help="also print CPU time per request")
    parser.add_argument("--keep-database", action="store_true", help="use the bench database as it is")
    args = parser.parse_args()

    env = bench_environment()
    if not args.keep_database:
        database_prepare(env)
    django_setup(env)
    run, token, workspaces = fixtures_make()
    all_keys = [key for _ws, keys in workspaces for key in keys]
    # Interleave workspaces so consecutive events (and a batch's events) hit different ones.
    spread_keys = [keys[k] for k in range(KEYS_PER_WORKSPACE) for _ws, keys in workspaces]
    one_keys = workspaces[0][1]
    ping = wrk_script("GET")

    setup_print(env, f"{WORKSPACES} workspaces x {KEYS_PER_WORKSPACE} keys; 5% of events sent twice")
    results, cpu = [], {}
    port = free_port()
    with Server(env, port=port) as server:
        url = server.url
        usage = f"{url}/api/v1/gateway/usage"
        wrk_run("warm", f"{url}/api/v1/ping", ping, connections=4, seconds=2)
        wrk_run("warm", usage, usage_script(token, all_keys, f"w{run}_"), connections=4, seconds=2)
        cases = [
            ("ping", f"{url}/api/v1/ping", ping, 32, args.seconds, 1),
            ("floor", f"{url}/bench/floor", wrk_script("POST"), 32, args.seconds, 1),
            ("spread", usage, usage_script(token, spread_keys, f"s{run}_"), 32, args.seconds, 1),
            ("one-ws", usage, usage_script(token, one_keys, f"o{run}_"), 32, args.seconds, 1),
            ("batch100", usage, usage_script(token, spread_keys, f"b{run}_", 100), 8, args.seconds, 100),
            ("batch1000", usage, usage_script(token, spread_keys, f"k{run}_", 1000), 4, args.seconds, 1000),
            ("ping", f"{url}/api/v1/ping", ping, 4, args.latency_seconds, 1),
            ("spread", usage, usage_script(token, spread_keys, f"l{run}_"), 4, args.latency_seconds, 1),
        ]
        for name, target, script, connections, seconds, per_request in cases:
            before = cpu_reading()
            result = wrk_run(name, target, script, connections=connections, seconds=seconds)
            results.append((result, per_request))
            cpu[(name, connections)] = cpu_used_between(before, cpu_reading())

    print()
    print(f"{'case':<10} {'conns':>5} {'req/s':>9} {'events/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'bad':>5}")
    for result, per in results:
        print(f"{result.name:<10} {result.connections:>5} {result.rps:>9.0f} {result.rps * per:>9.0f} "
              f"{result.p50_ms:>8.2f} {result.p99_ms:>8.2f} {result.bad:>5}")
    by = {(r.name, r.connections): (r, per) for r, per in results}
    ping32, spread32, one32 = by[("ping", 32)][0], by[("spread", 32)][0], by[("one-ws", 32)][0]
    spread4 = by[("spread", 4)][0]
    if args.cpu:
        cpu_print(results, cpu)
    checks = [
        ("spread vs ping req/s (>= 40%)", spread32.rps / ping32.rps, spread32.rps / ping32.rps >= 0.40),
        ("spread p99 at 4 conns (< 15 ms)", spread4.p99_ms, spread4.p99_ms < 15),
        ("one-ws vs spread throughput (>= 0.8x)", one32.rps / spread32.rps, one32.rps / spread32.rps >= 0.8),
        ("one-ws vs spread p99 (<= 2x)", one32.p99_ms / spread32.p99_ms, one32.p99_ms <= 2 * spread32.p99_ms),
        ("batch100 events/s (>= 10,000)", by[("batch100", 8)][0].rps * 100, by[("batch100", 8)][0].rps * 100 >= 10_000),
        ("batch1000 events/s (>= 10,000)", by[("batch1000", 4)][0].rps * 1000, by[("batch1000", 4)][0].rps * 1000 >= 10_000),
    ]
    print()
    for label, value, ok in checks:
        print(f"{'PASS' if ok else 'MISS'}  {label}: {value:.2f}")
    floor32 = by[("floor", 32)][0]
    print(f"info  floor (one committed INSERT per request) vs ping req/s: {floor32.rps / ping32.rps:.2f}; "
          f"spread vs floor: {spread32.rps / floor32.rps:.2f}")
    events, problems = balances_check(workspaces)
    print()
    if problems:
        print(f"BALANCE CHECK FAILED ({len(problems)}):")
        for problem in problems[:20]:
            print("  " + problem)
    else:
        print(f"Balance check: all {WORKSPACES} workspaces exact to the micro-credit over {events} "
              "charged events; one ledger row per event (replays charged nothing).")
    bad = sum(r.bad for r, _ in results)
    if bad:
        print(f"{bad} answers were not 2xx or failed: the figures above are not valid.")
    return 1 if problems or bad else 0


if __name__ == "__main__":
    os.chdir(Path(__file__).resolve().parents[1])
    sys.exit(main())
