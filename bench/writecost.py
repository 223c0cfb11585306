"""What one usage event costs to write, in CPU and WAL, measured in-process.

    .venv/bin/python bench/writecost.py [--events 3000] [--rounds 3] [--keep-database]

CPU time, unlike requests per second, stays meaningful on a shared, busy box. On a fresh
bench database (BENCH_DATABASE_URL; --keep-database uses it as it is), with the bench
settings and bench/usage.py's fixtures (100 workspaces x 4 keys), each round records
`--events` new events (every 20th sent twice, a replay) through usage.services, one at a
time (usage_record) and in batches of 100 and 1000 (usage_record_batch), and reads:
- client CPU per event: this process (parse, price, the answer, psycopg);
- PostgreSQL CPU per event: the connection's backend process (/proc/<pid>/stat);
- WAL bytes per event: pg_current_wal_lsn before and after;
- wall time per event (which a busy box inflates).
It prints the median of the rounds, and checks every balance as bench/usage.py does.
"""

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import bench_environment, database_prepare, django_setup  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def _backend_cpu(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _wal(cursor):
    cursor.execute("SELECT pg_current_wal_lsn()")
    return cursor.fetchone()[0]


def _events(keys, prefix, count):
    """`count` event dicts, every 20th a replay of the one before."""
    events, last = [], None
    for n in range(count):
        if last is not None and n % 20 == 0:
            events.append(last)
            continue
        last = {"id": f"{prefix}{n}", "key_id": keys[n % len(keys)], "product": "document.invoice",
                "tier": "auto", "quantity": {"pages": 1}, "status_code": 200}
        events.append(last)
    return events


def measure(mode, keys, count):
    from django.db import connection

    from usage.services import usage_record, usage_record_batch

    events = _events(keys, f"{mode}_{uuid.uuid4().hex[:8]}_", count)
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
        wal_before = _wal(cursor)
    pg_before, cpu_before, wall_before = _backend_cpu(pid), time.process_time(), time.perf_counter()
    if mode == "single":
        for item in events:
            usage_record(item)
    else:
        size = int(mode.removeprefix("batch"))
        for start in range(0, count, size):
            usage_record_batch(events[start:start + size])
    wall, cpu, pg = time.perf_counter() - wall_before, time.process_time() - cpu_before, _backend_cpu(pid) - pg_before
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", [wal_before])
        wal = float(cursor.fetchone()[0])
    return {"client": 1000 * cpu / count, "postgres": 1000 * pg / count, "wal": wal / count,
            "wall": 1000 * wall / count}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()
    env = bench_environment()
    if not args.keep_database:
        database_prepare(env)
    django_setup(env)
    from bench.usage import balances_check, fixtures_make

    _run, _token, workspaces = fixtures_make()
    keys = [keys[k] for k in range(len(workspaces[0][1])) for _ws, keys in workspaces]
    modes = ("single", "batch100", "batch1000")
    results = {mode: [] for mode in modes}
    measure("batch100", keys, 200)  # warm: prepared statements, caches
    for _ in range(args.rounds):
        for mode in modes:
            results[mode].append(measure(mode, keys, args.events))
    print(f"{args.events} events per round, {args.rounds} rounds, medians per event:")
    print(f"{'mode':<10} {'client CPU ms':>14} {'postgres CPU ms':>16} {'WAL bytes':>10} {'wall ms':>8}")
    for mode in modes:
        med = {k: statistics.median(r[k] for r in results[mode]) for k in results[mode][0]}
        print(f"{mode:<10} {med['client']:>14.3f} {med['postgres']:>16.3f} {med['wal']:>10.0f} {med['wall']:>8.3f}")
    events, problems = balances_check(workspaces)
    print("BALANCE CHECK FAILED: " + "; ".join(problems[:5]) if problems else
          f"Balance check: exact over {events} charged events.")


if __name__ == "__main__":
    main()
