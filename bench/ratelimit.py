"""The rate limiter alone: decisions per second from one process against Redis, and a
check that it never admits more than an exact reference count.

    .venv/bin/python bench/ratelimit.py [--seconds 5]

Workspaces with limits of 50, 500 and 5,000 per 60 s (plus one with 10^9, never refused)
are hit in turn, one script call per decision, first from one thread, then from four\nthreads of the same process (the threads overlap their waits on the network). Because a run is shorter than
the 60 s window, the exact reference is min(attempts, limit) admitted per workspace; the
admitted decisions' Redis timestamps are also checked for "at most N in any 60 s".
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import bench_environment, django_setup  # noqa: E402

LIMITS = {900_001: 50, 900_002: 500, 900_003: 5_000, 900_004: 10**9}


def ratelimit_bench(seconds=5.0, threads=1):
    """Run the decisions from `threads` threads of this one process; returns the figures."""
    import threading

    from apikeys.ratelimit import LOG_KEY, ratelimit_hit, redis_client

    client = redis_client()
    client.delete(*[LOG_KEY.format(workspace_id=w) for w in LIMITS])
    attempts = {w: [] for w in LIMITS}  # list.append is atomic under the GIL
    admitted = {w: [] for w in LIMITS}
    failed_open = []
    deadline = time.perf_counter() + seconds

    def worker():
        order = list(LIMITS.items())
        while time.perf_counter() < deadline:
            for workspace_id, limit in order:
                decision = ratelimit_hit(workspace_id, limit)
                if decision.marker is None:
                    failed_open.append(1)
                attempts[workspace_id].append(1)
                if decision.allowed:
                    admitted[workspace_id].append(decision.now_ms)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    if failed_open:
        raise SystemExit("Redis did not answer: the limiter failed open.")
    attempts = {w: len(a) for w, a in attempts.items()}
    decisions = sum(attempts.values())
    over = 0
    for workspace_id, limit in LIMITS.items():
        expected = min(attempts[workspace_id], limit)
        over += max(0, len(admitted[workspace_id]) - expected)
        stamps = sorted(admitted[workspace_id])
        for i in range(len(stamps) - limit):
            if stamps[i + limit] - stamps[i] < 60_000:
                over += 1
    client.delete(*[LOG_KEY.format(workspace_id=w) for w in LIMITS])
    return decisions / elapsed, decisions, over, attempts, admitted


def report(env, seconds, threads):
    rate, total, over, attempts, admitted = ratelimit_bench(seconds, threads)
    print(f"Rate limiter against {env['REDIS_URL']}, one process, {threads} thread(s): "
          f"{rate:,.0f} decisions/s ({total:,} decisions in {seconds:g} s)")
    for workspace_id, limit in LIMITS.items():
        print(f"  limit {limit:>13,}: {attempts[workspace_id]:>7,} attempts, "
              f"{len(admitted[workspace_id]):>7,} admitted "
              f"(exact reference {min(attempts[workspace_id], limit):,})")
    print(f"  over-admissions: {over}")
    return over


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    env = bench_environment()
    django_setup(env)
    over = report(env, args.seconds, threads=1) + report(env, args.seconds, threads=4)
    return 0 if over == 0 else 1


if __name__ == "__main__":
    os.chdir(Path(__file__).resolve().parents[1])
    sys.exit(main())
