"""A real Celery worker, on the real broker, runs the beat jobs against the real database."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app
from tests.usage.metering_helpers import *  # noqa: F401,F403
from tests.usage.metering_helpers import event
from usage.models import DailyUsage
from usage.services import usage_record_batch
from usage.tasks import rollup_usage

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def _worker_environment():
    db = connection.settings_dict
    env = dict(os.environ)
    env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env["REDIS_URL"] = settings.REDIS_URL
    env["CELERY_TASK_ALWAYS_EAGER"] = "0"
    return env


@pytest.fixture
def worker_queue():
    """A worker process of its own, listening on a queue no other test or worker uses."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo",
         "--concurrency=1", "-Q", queue, "--loglevel=WARNING", "--without-gossip",
         "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=_worker_environment(),
    )
    app.conf.task_always_eager = False
    try:
        yield queue
    finally:
        app.conf.task_always_eager = True
        process.terminate()
        process.wait(timeout=20)
    connection.close()  # the worker held the test database open; start clean


def _wait_for(condition, seconds=45):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.25)
    return False


def test_a_worker_rolls_usage_up_into_daily_rows(api_key, workspace, worker_queue):
    key, _ = api_key
    usage_record_batch([
        event(key, "w1", quantity={"pages": 2}),
        event(key, "w2", quantity={"pages": 3}),
    ])
    assert not DailyUsage.objects.filter(workspace=workspace).exists()

    result = rollup_usage.apply_async(queue=worker_queue)

    assert result.id
    assert _wait_for(lambda: DailyUsage.objects.filter(workspace=workspace).exists()), (
        "the worker did not roll up the usage within 45 s"
    )
    row = DailyUsage.objects.get(workspace=workspace)
    assert row.requests == 2
    assert row.quantity == {"pages": "5"}
