"""The embedded set-up (no REDIS_URL) runs a real Celery worker on a broker that needs no
server: a folder under var/ (kombu's filesystem transport), with results in another.

Everything runs in fresh processes on a var/ folder of the test's own, as `make run` does:
the test database is in memory, which another process cannot see.
"""

import os
import signal
import subprocess
import sys
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


def test_a_worker_on_the_folder_broker_runs_the_rollup_and_returns_its_result(tmp_path):
    env = _embedded_env(tmp_path)
    migrate = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert migrate.returncode == 0, migrate.stderr
    log = open(tmp_path / "worker.log", "w")
    # The command the Procfile runs; its own process group, so the test stops all of it.
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--beat", "--concurrency=1",
         "--loglevel=INFO"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
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
