"""`make serve`: gunicorn with WEB_CONCURRENCY workers, one Celery worker and one beat from
Procfile.prod, on PostgreSQL and Redis, started and stopped together; /healthz reports the
database, the cache and the broker. (`make run`, the embedded default, is tested in
tests/test_embedded_worker.py.)"""

import os
import re
import signal
import subprocess
import warnings

import pytest
from celery.exceptions import AlwaysEagerIgnored

from config.celery import app
from tests.processes import ROOT, free_port, group_left, healthz, procfile_commands, server_env, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _production(var_dir):
    """DEBUG off, as in production (a throwaway secret; the payment keys are never used)."""
    return server_env(
        var_dir, DEBUG="0", SECRET_KEY="s" * 20 + os.urandom(24).hex(), ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="0", STRIPE_SECRET_KEY="sk_test_unused", WEB_CONCURRENCY=3,
        CELERY_CONCURRENCY=1,
    )


def test_procfile_prod_runs_gunicorn_one_worker_and_one_beat():
    commands = procfile_commands()
    assert set(commands) == {"web", "worker", "beat"}
    assert commands["web"].startswith("gunicorn config.wsgi:application")
    assert "--workers ${WEB_CONCURRENCY:-2}" in commands["web"]
    assert commands["worker"].startswith("celery -A config worker") and "--beat" not in commands["worker"]
    assert commands["beat"].startswith("celery -A config beat")


def test_make_serve_refuses_to_start_without_postgres_and_redis(tmp_path):
    env = {k: v for k, v in server_env(tmp_path).items() if k not in ("DATABASE_URL", "REDIS_URL")}
    # -o install: the shared virtualenv is already installed; never reinstall from a test.
    done = subprocess.run(["make", "-o", "install", "serve"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0
    assert "make serve needs DATABASE_URL and REDIS_URL" in done.stdout + done.stderr


def test_make_serve_starts_web_worker_and_beat_reports_health_and_stops_on_one_ctrl_c(
    django_db_setup, tmp_path
):
    port, log = free_port(), tmp_path / "serve.log"
    with open(log, "w") as out:
        make = subprocess.Popen(
            ["make", "-o", "install", "serve", f"PORT={port}"], cwd=ROOT, env=_production(tmp_path),
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_until(lambda: (healthz(port) or {}).get("status") == "ok" and " ready." in log.read_text()
                   and "beat: Starting..." in log.read_text(), timeout=90, what="make serve to be up")
        health = healthz(port)
        assert health["checks"] == {"database": "ok", "cache": "ok", "broker": "ok"}
        output = log.read_text()
        assert len(re.findall(r"web\.1 .*Booting worker with pid", output)) == 3  # WEB_CONCURRENCY
        assert "Connected to redis://" in output

        # A task sent through Redis from another process: only the worker can run it.
        with warnings.catch_warnings():  # the test process runs its own tasks eagerly; this one goes out
            warnings.simplefilter("ignore", AlwaysEagerIgnored)
            app.send_task("usage.tasks.rollup_usage")
        wait_until(lambda: re.search(r"usage\.tasks\.rollup_usage\[[\w-]+\] succeeded", log.read_text()),
                   timeout=30, what="the worker to run a task from the broker")

        os.killpg(make.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        make.wait(timeout=30)
        output = log.read_text()
        for name in ("web.1", "worker.1", "beat.1"):
            assert f"{name} stopped" in output
        assert "worker: Warm shutdown" in output  # asked to finish, not just killed
        groups = re.findall(r"sending SIGTERM to \w+\.1 \(pid (\d+)\)", output)
        assert len(groups) == 3 and not [left for pid in groups for left in group_left(pid)]
        assert healthz(port) is None
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
        for pid in re.findall(r"sending SIGTERM to \w+\.1 \(pid (\d+)\)", log.read_text()):
            try:
                os.killpg(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
