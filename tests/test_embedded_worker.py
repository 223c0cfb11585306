"""The embedded set-up (no REDIS_URL) runs a real Celery worker on a broker that needs no
server: a folder under var/ (kombu's filesystem transport), with results in another.

Everything runs in fresh processes on a var/ folder of the test's own, as `make run` does:
the test database is in memory, which another process cannot see.
"""

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {"DATABASE_URL", "REDIS_URL", "CELERY_TASK_ALWAYS_EAGER", "DJANGO_ALLOW_ASYNC_UNSAFE"}


def _embedded_env(var_dir):
    env = {k: v for k, v in os.environ.items() if k not in SERVICES}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", METERDESK_VAR_DIR=str(var_dir))
    return env


def _python(code, env, timeout=120):
    return subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def _procfile():
    lines = (ROOT / "Procfile").read_text().splitlines()
    entries = (line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))
    return {name: shlex.split(command) for name, command in entries}


def test_make_run_starts_the_web_server_and_a_worker_with_beat():
    procfile = _procfile()
    assert procfile["web"][:3] == ["python", "manage.py", "runserver"]
    assert procfile["worker"][:4] == ["celery", "-A", "config", "worker"] and "--beat" in procfile["worker"]


def test_a_worker_on_the_folder_broker_runs_the_rollup_and_returns_its_result(tmp_path):
    env = _embedded_env(tmp_path)
    migrate = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert migrate.returncode == 0, migrate.stderr
    log = open(tmp_path / "worker.log", "w")
    # The Procfile's own worker command, in a process group of its own (as honcho starts it),
    # so the test stops all of it.
    worker = subprocess.Popen(
        [sys.executable, "-m", *_procfile()["worker"]], cwd=ROOT, env=env,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        # Sent from another process, not eager: only the worker can have run it, and only the
        # file result backend can have carried the answer back.
        sent = _python(
            "from usage.tasks import rollup_usage; "
            "print(rollup_usage.delay().get(timeout=60))", env,
        )
        assert sent.returncode == 0, sent.stderr + (tmp_path / "worker.log").read_text()
        assert sent.stdout.strip() == "{'days': 0, 'events_deleted': 0, 'metadata_cleared': 0}"
        worker_log = (tmp_path / "worker.log").read_text()
        assert "Connected to filesystem://" in worker_log
        assert "beat: Starting..." in worker_log
        assert "usage.tasks.rollup_usage" in worker_log and "succeeded" in worker_log
        assert list((tmp_path / "celery" / "results").iterdir())
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        log.close()


def test_the_embedded_database_is_in_wal_mode_with_a_busy_timeout(tmp_path):
    shown = _python(
        "from django.db import connection; c = connection.cursor(); "
        "print(c.execute('PRAGMA journal_mode').fetchone()[0], c.execute('PRAGMA busy_timeout').fetchone()[0])",
        _embedded_env(tmp_path),
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == ["wal", "20000"]


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(port):
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).status == 200
    except OSError:
        return False


def test_one_ctrl_c_stops_the_web_server_and_the_worker(tmp_path):
    env = _embedded_env(tmp_path)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # as make run does
    port, log = _free_port(), tmp_path / "honcho.log"
    with open(log, "w") as out:
        honcho = subprocess.Popen(
            [sys.executable, "-m", "honcho", "start", "--port", str(port)], cwd=ROOT, env=env,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (_answers(port) and " ready." in log.read_text()):
            time.sleep(0.5)
        assert _answers(port) and " ready." in log.read_text(), log.read_text()
        honcho.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends
        honcho.wait(timeout=30)
        output = log.read_text()
        assert "worker.1 stopped" in output and "web.1 stopped" in output
        assert "worker: Warm shutdown" in output  # the worker was asked to stop, not just killed
        # honcho started each in a process group of its own: none of them has a process left.
        groups = re.findall(r"sending SIGTERM to \w+\.1 \(pid (\d+)\)", output)
        assert len(groups) == 2
        listed = subprocess.run(["ps", "-o", "stat=,args=", "-g", ",".join(groups)], capture_output=True, text=True)
        running = [line for line in listed.stdout.splitlines() if not line.startswith("Z")]  # Z: exited
        assert running == []
        assert not _answers(port)
    finally:
        if honcho.poll() is None:
            os.killpg(honcho.pid, signal.SIGKILL)
            honcho.wait()
