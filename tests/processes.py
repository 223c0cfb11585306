"""Running the app's real processes from tests: Procfile.prod's commands, each in a process
group of its own (as honcho starts them), on free ports, against the test database and
Redis, always stopped at the end.

Used by tests/test_serve.py (`make serve`) and tests/test_scale_out.py (two of each).
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# Variables of the test run that must not reach a server: tasks run eagerly only in tests.
TEST_ONLY = {"CELERY_TASK_ALWAYS_EAGER", "DJANGO_ALLOW_ASYNC_UNSAFE", "PYTEST_CURRENT_TEST", "PYTEST_XDIST_WORKER"}


def procfile_commands(name="Procfile.prod"):
    """{"web": "gunicorn …", …}: the command lines of a Procfile."""
    lines = (ROOT / name).read_text().splitlines()
    entries = (line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))
    return {process: command.strip() for process, command in entries}


def this_runs_database_url():
    """The URL of the database this test run uses (pytest-django's test database)."""
    db = settings.DATABASES["default"]
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def server_env(var_dir, **extra):
    """The environment of a production-shaped process on the test database and Redis."""
    env = {k: v for k, v in os.environ.items() if k not in TEST_ONLY}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=this_runs_database_url(),
        REDIS_URL=settings.REDIS_URL, METERDESK_VAR_DIR=str(var_dir),
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Process:
    """One command line run by sh (as honcho runs a Procfile line), its output in `log`."""

    def __init__(self, command, env, log):
        self.command, self.log = command, Path(log)
        with open(self.log, "w") as out:
            self.popen = subprocess.Popen(
                ["sh", "-c", f"exec {command}"], cwd=ROOT, env=env, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )

    @property
    def output(self):
        return self.log.read_text(errors="replace")

    def running(self):
        return self.popen.poll() is None

    def kill(self, sig=signal.SIGKILL):
        """Signal the whole group: a gunicorn master's or a Celery worker's children too."""
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, grace=15):
        if self.running():
            self.kill(signal.SIGTERM)
        self.wait_or_kill(grace)

    def wait_or_kill(self, grace):
        """Wait up to `grace` seconds for a process already asked to stop, then kill what is left."""
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        self.kill(signal.SIGKILL)  # anything left in the group, even after the leader exited
        if self.running():
            self.popen.wait(timeout=10)


def wait_until(condition, *, timeout, what, every=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"Waited {timeout} s for {what}")


def healthz(port):
    """/healthz's JSON, or None while nothing answers."""
    import json

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as response:
            return json.loads(response.read())
    except OSError:
        return None


def group_left(pid):
    """The processes still alive in process group `pid` (zombies count as gone)."""
    listed = subprocess.run(["ps", "-o", "stat=,args=", "-g", str(pid)], capture_output=True, text=True)
    return [line for line in listed.stdout.splitlines() if line.strip() and not line.lstrip().startswith("Z")]


__all__ = ["procfile_commands", "server_env", "free_port", "Process", "wait_until", "healthz", "group_left"]
