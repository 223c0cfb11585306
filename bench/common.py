"""Shared pieces of the HTTP benchmarks: a bench database, gunicorn, wrk, a results table.

Used by bench/authorize.py (and bench/usage.py, built the same way). Everything runs on
this machine only: gunicorn listens on 127.0.0.1, wrk sends traffic to it and nowhere else,
every run is bounded in time.
"""

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
WRK = shutil.which("wrk") or "/usr/bin/wrk"

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/meterdesk_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/3"


def bench_environment(database_url=None, redis_url=None):
    """Production-like settings (DEBUG off: no query log, no debug pages) on local services."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url or os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        REDIS_URL=redis_url or os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        STRIPE_SECRET_KEY="sk_test_bench_placeholder",
        DJANGO_SETTINGS_MODULE="bench.settings",  # the app, plus /bench/floor
        LOG_LEVEL="WARNING",
        CELERY_TASK_ALWAYS_EAGER="1",
    )
    return env


def database_prepare(env):
    """Create the bench database afresh (so runs are comparable: events pile up by the
    million otherwise, and a bigger table is a slower one), migrate it, and add the table
    of bench/views.py's floor route."""
    import psycopg

    url = urlparse(env["DATABASE_URL"])
    name = url.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"Refusing to recreate database {name!r}: a bench database's name "
                         "must contain 'bench' (BENCH_DATABASE_URL).")
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([str(PYTHON), "manage.py", "migrate", "--noinput", "-v", "0"],
                   cwd=ROOT, env=env, check=True)
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_floor (id bigserial PRIMARY KEY, n integer NOT NULL)")


def django_setup(env):
    """Configure Django in this process with the bench settings (for making fixtures)."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def free_port():
    """A port nothing listens on now, so we never measure somebody else's server."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_kind():
    """How gunicorn runs: sync workers unless BENCH_GUNICORN_ARGS says otherwise."""
    extra = os.environ.get("BENCH_GUNICORN_ARGS", "").strip()
    return f"gunicorn {extra}" if extra else "sync"


class Server:
    """gunicorn serving the app on 127.0.0.1:port with `workers` workers (see server_kind)."""

    def __init__(self, env, port=None, workers=2):
        self.env, self.port, self.workers = env, port or free_port(), workers
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def __enter__(self):
        self.process = subprocess.Popen(
            [str(GUNICORN), "config.wsgi:application", "--workers", str(self.workers),
             "--bind", f"127.0.0.1:{self.port}", "--backlog", "2048", "--log-level", "warning",
             *os.environ.get("BENCH_GUNICORN_ARGS", "").split()],
            cwd=ROOT, env=self.env, start_new_session=True,
        )
        try:
            return self._wait_until_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def _wait_until_ready(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with status {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer /healthz within 30 s")

    def __exit__(self, *exc):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


@dataclass
class LoadResult:
    name: str
    connections: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    bad: int  # non-2xx answers plus socket errors

    @property
    def rps(self):
        return self.requests / self.seconds


WRK_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"p50":%d,"p99":%d,"bad":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status + e.connect + e.read + e.write + e.timeout))
end
"""


def wrk_script(method="GET", headers=None, bodies=None):
    """A wrk Lua script: fixed method and headers, bodies taken round-robin."""
    lines = [f'wrk.method = "{method}"']
    for name, value in (headers or {}).items():
        lines.append(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}")
    if bodies:
        lines.append("local bodies = {" + ",".join(json.dumps(b) for b in bodies) + "}")
        lines.append("local i = 0")
        lines.append(
            "request = function() i = i % #bodies + 1; "
            "return wrk.format(nil, nil, nil, bodies[i]) end"
        )
    return "\n".join(lines) + "\n" + WRK_DONE


def wrk_run(name, url, script, *, connections, seconds, threads=2):
    """Drive `url` with wrk (a separate, light C process) and return a LoadResult."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        path = handle.name
    try:
        done = subprocess.run(
            [WRK, "-t", str(min(threads, connections)), "-c", str(connections), "-d", f"{seconds}s",
             "--timeout", "10s", "-s", path, url],
            capture_output=True, text=True, timeout=seconds + 60,
        )
    finally:
        os.unlink(path)
    line = next((l for l in done.stdout.splitlines() if l.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")
    data = json.loads(line[len("WRKJSON "):])
    return LoadResult(name, connections, data["requests"], data["duration_us"] / 1e6,
                      data["p50"] / 1000, data["p99"] / 1000, data["bad"])


def cpu_reading():
    """CPU seconds (user + system) used so far by each live process, keyed (pid, kind) with
    kind gunicorn, postgres, redis or other; and the machine's (busy, idle) ticks."""
    tick = os.sysconf("SC_CLK_TCK")
    processes = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as handle:
                stat = handle.read()
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                command = handle.read().decode(errors="replace")
        except OSError:  # the process ended meanwhile
            continue
        name, fields = stat.split("(", 1)[1].rsplit(")", 1)
        fields = fields.split()
        kind = ("gunicorn" if "gunicorn" in command else "postgres" if name.startswith("postgres")
                else "redis" if name.startswith("redis") else "other")
        processes[(pid, kind)] = (int(fields[11]) + int(fields[12])) / tick
    with open("/proc/stat") as handle:
        ticks = [int(n) for n in handle.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    return processes, (sum(ticks[:8]) - idle, idle)


def cpu_used_between(before, after):
    """({kind: CPU seconds}, share of the cores busy) between two cpu_reading()s. Counted
    per process, so one that started or ended meanwhile adds only what it used in between."""
    used = {}
    for (pid, kind), seconds in after[0].items():
        used[kind] = used.get(kind, 0) + seconds - before[0].get((pid, kind), 0)
    busy, idle = (a - b for a, b in zip(after[1], before[1]))
    return used, busy / max(busy + idle, 1)


def table_print(results, baseline_name):
    """Requests/s, p50, p99 per run, with ratios to the baseline at the same concurrency."""
    base = {r.connections: r for r in results if r.name == baseline_name}
    print(f"{'route':<12} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'bad':>5} {'rps vs ' + baseline_name:>14} {'p99 Δ ms':>9}")
    for r in results:
        b = base.get(r.connections)
        ratio = f"{r.rps / b.rps:.0%}" if b else "-"
        delta = f"{r.p99_ms - b.p99_ms:+.2f}" if b else "-"
        print(f"{r.name:<12} {r.connections:>5} {r.rps:>9.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} "
              f"{r.bad:>5} {ratio:>14} {delta:>9}")


def machine_summary():
    """What the benchmark ran on, for the report."""
    cpus = os.cpu_count()
    try:
        model = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        model = "unknown CPU"
    return f"{cpus} cores ({model}), Python {sys.version.split()[0]}"


def setup_print(env, load):
    """The three lines that say what a benchmark ran on, against what, driven how."""
    print(f"Machine: {machine_summary()}")
    print(f"App: gunicorn, 2 workers ({server_kind()}), DEBUG=0, {env['DATABASE_URL']}, "
          f"{env['REDIS_URL']}")
    print(f"Load: wrk (2 threads) from a separate process; {load}")
