"""Scale-out: two gunicorn instances (no memory shared), two Celery workers and one beat,
all from Procfile.prod's command lines, on one PostgreSQL (this run's test database) and one
Redis, started by this module and always stopped at its end.

What must hold however many processes serve: a plan's rate limit counts every instance's
requests; a key revoked through one instance is refused by every instance once the revoke
returns; usage sent to both instances at once is charged exactly; a cycle close and a
roll-up taken by several workers at once have one effect; and a worker killed (SIGKILL) in
the middle of a cycle close or a recharge leaves no money movement half done, while its task
runs to the end on another worker once the broker hands it out again (late acknowledgement,
CELERY_VISIBILITY_TIMEOUT), with no second effect.

The processes run with DEBUG on for one reason: the payment sandbox, which keeps its state
(and honours idempotency keys) in the database, so every process talks to the same "Stripe".
"""

import json
import os
import re
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from io import StringIO
from pathlib import Path

import psycopg
import pytest
from celery.exceptions import AlwaysEagerIgnored
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from apikeys.services import key_create, service_token_create
from billing import sandbox
from billing.cycles import cycle_bounds
from billing.ledger import workspace_balance
from billing.models import (
    BillingAccount, BillingCycle, EntryKind, Invoice, LedgerEntry, RechargeAttempt, SandboxObject,
)
from billing.money import MICRO
from config.celery import app
from config.ttlcache import ttl_caches_clear
from pricing.catalog import catalog_forget_local
from tests.billing.helpers import start_on
from tests.billing.test_auto_recharge import card_on_file, turn_on
from tests.factories import UserFactory, WorkspaceFactory, give_credits
from tests.processes import Process, free_port, healthz, procfile_commands, server_env, this_runs_database_url, wait_until
from usage.models import DailyUsage

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

VISIBILITY_TIMEOUT = 8  # seconds before a message a dead worker held goes to another worker
APP_NAME = "scaleout-{kind}-{name}"  # each process's name in pg_stat_activity (PGAPPNAME)
AUTHORIZE, USAGE = "/api/v1/gateway/authorize", "/api/v1/gateway/usage"
# document.invoice, tier hi, with grounding: 4 + 2 credits a page (docs/api.md).
PAGE = {"product": "document.invoice", "tier": "hi", "grounding": True}
PAGE_CREDITS = 6


class Cluster:
    """Two web instances (a, b), two workers (a, b), one beat; their logs under `var`."""

    def __init__(self, var):
        self.var, self.commands = var, procfile_commands()
        self.env = server_env(
            var, DEBUG="1", CELERY_VISIBILITY_TIMEOUT=VISIBILITY_TIMEOUT, WEB_CONCURRENCY=2,
            CELERY_CONCURRENCY=2, LOG_LEVEL="INFO",
        )
        self.web, self.ports, self.workers, self.worker_logs, self.beat = {}, {}, {}, [], None

    def _env(self, kind, name, **extra):
        return {**self.env, "PGAPPNAME": APP_NAME.format(kind=kind, name=name), **{k: str(v) for k, v in extra.items()}}

    def start_web(self, name):
        port = free_port()
        self.ports[name] = port
        self.web[name] = Process(self.commands["web"], self._env("web", name, PORT=port),
                                 self.var / f"web-{name}.log")

    def start_worker(self, name):
        log = self.var / f"worker-{name}-{len(self.worker_logs)}.log"
        self.worker_logs.append(log)
        self.workers[name] = Process(f"{self.commands['worker']} --hostname {name}@%h",
                                     self._env("worker", name), log)

    def start(self):
        for name in ("a", "b"):
            self.start_web(name)
            self.start_worker(name)
        self.beat = Process(self.commands["beat"], self._env("beat", "1"), self.var / "beat.log")
        self.wait_ready()

    def wait_ready(self):
        def ready():
            for process in [*self.web.values(), *self.workers.values(), self.beat]:
                assert process.running(), f"{process.command} exited:\n{process.output[-3000:]}"
            return (all((healthz(port) or {}).get("status") == "ok" for port in self.ports.values())
                    and all(" ready." in worker.output for worker in self.workers.values())
                    and "beat: Starting..." in self.beat.output)

        wait_until(ready, timeout=120, what="two web instances, two workers and beat")

    def workers_back(self):
        """Two workers again, after a test killed one."""
        missing = {"a", "b"} - set(self.workers)
        for name in sorted(missing):
            self.start_worker(name)
        if missing:
            self.wait_ready()

    def kill_worker(self, name):
        self.workers.pop(name).kill()  # SIGKILL to its process group: main process and pool

    def stop(self):
        processes = [*self.web.values(), *self.workers.values(), *([self.beat] if self.beat else [])]
        for process in processes:  # all asked at once, then each waited for (or killed)
            process.kill(signal.SIGTERM)
        for process in processes:
            process.wait_or_kill(grace=10)

    @property
    def worker_output(self):
        return "".join(log.read_text(errors="replace") for log in self.worker_logs)

    def mark(self):
        """Where each worker log ends now (see closes_since_mark)."""
        self.marked = {log: log.stat().st_size for log in self.worker_logs}

    def closes_since_mark(self):
        """The cycles each close_due_cycles run closed since the mark, whoever sent it
        (these tests, or beat at five past the hour)."""
        text = "".join(log.read_bytes()[self.marked.get(log, 0):].decode(errors="replace")
                       for log in self.worker_logs)
        return [int(n) for n in re.findall(r"close_due_cycles\[[\w-]+\] succeeded in [\d.]+s: (\d+)", text)]

    def task_results(self, task_id):
        """The results logged for task `task_id`, by whichever worker ran it."""
        return re.findall(rf"\[{task_id}\] succeeded in [\d.]+s: (.*)", self.worker_output)

    def settle(self):
        """Nothing waiting in the queue and nothing taken and not yet acknowledged."""
        import redis

        broker = redis.Redis.from_url(self.env["REDIS_URL"])
        wait_until(lambda: broker.llen("celery") == 0 and broker.zcard("unacked_index") == 0,
                   timeout=60, what="the workers to finish every task")


@pytest.fixture(scope="module")
def cluster(django_db_setup, django_db_blocker, tmp_path_factory):
    # Module fixtures come before the suite's per-test check of the markers: the same check.
    if not (settings.IS_POSTGRES and settings.REDIS_URL):
        message = "PostgreSQL and Redis (DATABASE_URL=postgres://..., REDIS_URL)"
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"{message} are required here (REQUIRE_SERVICES=1) but are not available.")
        pytest.skip(f"{message} are not available; set them up or run in CI.")
    cache.clear()  # a clean Redis for the rate limits, markers and the queue
    running = Cluster(tmp_path_factory.mktemp("scale-out"))
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(autouse=True)
def _fast_and_clean(settings, cluster):
    """Replaces the suite's: its cache.clear() would empty Redis under the running workers.
    After a transactional test the suite flushes Redis anyway; bind the queue again (kombu
    keeps the binding in Redis) so the web processes' jobs still reach the workers."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    catalog_forget_local()
    ttl_caches_clear()
    cluster.workers_back()
    cluster.mark()
    with app.connection_for_write() as connection:
        for queue in app.amqp.queues.values():
            queue.bind(connection.default_channel).declare()
    yield
    cluster.settle()  # before the suite empties the tables under a task still running


# --- talking to the instances ------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 302 is the answer we look at


_opener = urllib.request.build_opener(_NoRedirect)


def call(port, path, body=None, headers=None):
    """POST JSON (or a form, when body is a str) to one instance: (status, parsed JSON or text)."""
    data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    kind = "application/x-www-form-urlencoded" if isinstance(body, str) else "application/json"
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method="POST",
                                     headers={"Content-Type": kind, **(headers or {})})
    try:
        with _opener.open(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


class Tenant:
    """A workspace with an owner, a key and a gateway service token."""

    def __init__(self, name, credits=1_000):
        self.owner = UserFactory(email=f"{name}@example.com")
        self.workspace = WorkspaceFactory(owner=self.owner, name=name.title())
        give_credits(self.workspace, credits)
        self.key, self.secret = key_create(workspace=self.workspace, user=self.owner, name="gateway")
        _token, self.token = service_token_create(name=f"gateway-{name}")

    @property
    def account(self):
        return BillingAccount.objects.get(workspace=self.workspace)

    def authorize(self, port):
        return call(port, AUTHORIZE, {"api_key": self.secret}, {"Authorization": f"Bearer {self.token}"})[0]

    def usage(self, port, event_id, pages=1):
        event = {"id": event_id, "key_id": self.key.public_id, "quantity": {"pages": pages}, **PAGE}
        return call(port, USAGE, event, {"Authorization": f"Bearer {self.token}"})

    def balance(self):
        return workspace_balance(self.workspace.pk)


def ledger_ok():
    out = StringIO()
    call_command("check_ledger", stdout=out)  # raises CommandError naming any mismatch
    return out.getvalue()


def send(task_name, count=1):
    """Enqueue `task_name` `count` times through Redis; the task ids."""
    ids = [f"scaleout-{uuid.uuid4().hex}" for _ in range(count)]
    with warnings.catch_warnings():  # this test process runs its own tasks eagerly; these go out
        warnings.simplefilter("ignore", AlwaysEagerIgnored)
        for task_id in ids:
            app.send_task(task_name, task_id=task_id)
    return ids


def wait_for_results(cluster, ids, timeout=60):
    wait_until(lambda: all(cluster.task_results(task_id) for task_id in ids), timeout=timeout,
               what=f"tasks {ids} to succeed:\n{cluster.worker_output[-4000:]}")
    return [cluster.task_results(task_id)[0] for task_id in ids]


def ended_cycle(tenant, plan="pro"):
    """Put the tenant on `plan` with a first cycle that has just ended (the next is not due)."""
    now = timezone.now()
    anchor = min(now.day, 28)
    current_start, _ = cycle_bounds(anchor, now)
    previous_start, _ = cycle_bounds(anchor, current_start - timezone.timedelta(seconds=1))
    return start_on(tenant.workspace, plan=plan, anchor_day=anchor, start=previous_start)


def assert_closed_once(tenant, cycle):
    """Closed, with one invoice, one expiry of the included credits, and one next cycle
    with one grant."""
    cycle.refresh_from_db()
    assert cycle.closed_at is not None
    assert Invoice.objects.filter(cycle=cycle).count() == 1
    assert LedgerEntry.objects.filter(reference=f"cycle:{cycle.pk}:expiry").count() == 1
    (following,) = BillingCycle.objects.filter(workspace=tenant.workspace, closed_at__isnull=True)
    assert following.start == cycle.end
    assert LedgerEntry.objects.filter(reference=f"cycle:{following.pk}:grant").count() == 1


# --- the properties ------------------------------------------------------------------------------


def test_a_plans_rate_limit_holds_across_both_instances(cluster):
    tenant = Tenant("limited")  # starter: 10 requests per rolling minute
    limit = tenant.account.requests_per_minute
    assert limit == 10
    ports = [cluster.ports["a"], cluster.ports["b"]]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda n: (n % 2, tenant.authorize(ports[n % 2])), range(40)))
    admitted = [instance for instance, status in statuses if status == 200]
    refused = [instance for instance, status in statuses if status == 429]
    assert len(admitted) == limit and len(refused) == 40 - limit
    assert set(refused) == {0, 1}  # each instance refused once the shared count was full
    # Later in the same minute, on either instance: still nothing more.
    assert {tenant.authorize(port) for port in ports * 3} == {429}


def test_a_key_revoked_through_one_instance_is_refused_by_both_once_the_revoke_returns(cluster):
    tenant = Tenant("revoking")
    BillingAccount.objects.filter(workspace=tenant.workspace).update(custom_requests_per_minute=100_000)
    browser = Client()
    browser.force_login(tenant.owner)  # a session in the shared database, valid on every instance
    csrf = "c" * 32
    cookies = f"sessionid={browser.cookies['sessionid'].value}; csrftoken={csrf}"

    answers, stop = [], threading.Event()

    def hammer(port):
        while not stop.is_set():
            sent = time.monotonic()
            status = tenant.authorize(port)
            answers.append((port, sent, time.monotonic(), status))

    ports = [cluster.ports["a"], cluster.ports["b"]] * 2
    threads = [threading.Thread(target=hammer, args=(port,)) for port in ports]
    for thread in threads:
        thread.start()
    try:
        # Every instance has cached the key by now (both gunicorn workers of each).
        wait_until(lambda: all(sum(1 for answer in answers if answer[0] == port and answer[3] == 200) >= 20
                               for port in ports), timeout=30, what="both instances to admit the key")
        revoking = time.monotonic()
        status, _ = call(cluster.ports["a"], f"/settings/api-keys/{tenant.key.public_id}/revoke/",
                         f"csrfmiddlewaretoken={csrf}", {"Cookie": cookies})
        returned = time.monotonic()
        assert status == 302
        time.sleep(1.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    after = [(port, status) for port, sent, _done, status in answers if sent >= returned]
    assert {port for port, _ in after} == {cluster.ports["a"], cluster.ports["b"]}
    assert {status for _, status in after} == {401}, "a request sent after the revoke returned was admitted"
    assert {status for _port, _sent, done, status in answers if done < revoking} == {200}


def test_usage_sent_to_both_instances_at_once_is_charged_exactly(cluster):
    tenant = Tenant("busy", credits=5_000)
    before = tenant.balance()
    ids = [f"req_{n}" for n in range(120)]
    # Each event twice, once to each instance at the same moment (a gateway retrying
    # through another instance): it must be charged once.
    jobs = [(port, event_id) for event_id in ids for port in (cluster.ports["a"], cluster.ports["b"])]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda job: tenant.usage(*job), jobs))
    assert {status for status, _ in answers} == {200}
    assert {body["charged"] for _, body in answers} == {f"{PAGE_CREDITS}.000000"}
    assert before - tenant.balance() == len(ids) * PAGE_CREDITS * MICRO
    usage_rows = LedgerEntry.objects.filter(workspace=tenant.workspace, kind=EntryKind.USAGE)
    assert usage_rows.count() == len(ids)
    assert "all balanced" in ledger_ok()


def test_a_cycle_close_taken_by_several_workers_at_once_closes_it_once(cluster):
    tenant = Tenant("closing")
    cycle = ended_cycle(tenant)
    wait_for_results(cluster, send("billing.tasks.close_due_cycles", 6))
    assert sum(cluster.closes_since_mark()) == 1  # one run closed it; the others found it closed
    cycle.refresh_from_db()
    assert cycle.closed_at is not None
    assert Invoice.objects.filter(cycle=cycle).count() == 1
    assert_closed_once(tenant, cycle)
    assert "all balanced" in ledger_ok()


def test_a_roll_up_taken_by_several_workers_at_once_counts_every_event_once(cluster):
    tenant = Tenant("charting")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: tenant.usage(cluster.ports["ab"[n % 2]], f"req_{n}"), range(40)))
    wait_for_results(cluster, send("usage.tasks.rollup_usage", 6))
    rows = DailyUsage.objects.filter(workspace=tenant.workspace)
    assert sum(row.requests for row in rows) == 40
    assert sum(row.credits_micro for row in rows) == 40 * PAGE_CREDITS * MICRO


# --- a worker killed in the middle of a money movement -----------------------------------------


@contextmanager
def invoice_numbers_held():
    """Hold the invoice counter's row lock from another connection: a close or a recharge
    stops at its invoice number, after its ledger rows, inside its transaction."""
    with psycopg.connect(this_runs_database_url()) as holder:
        holder.execute("SELECT last_number FROM billing_invoicecounter WHERE id = 1 FOR UPDATE")
        yield holder
        holder.rollback()


def blocked_worker_backend(cluster, task_id=None, timeout=60):
    """(pid, worker name) of a worker's database session waiting on the held lock: the one
    of the worker that took `task_id`, when given."""
    found = []

    def look():
        with psycopg.connect(this_runs_database_url(), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid, application_name FROM pg_stat_activity "
                "WHERE application_name LIKE 'scaleout-worker-%%' AND wait_event_type = 'Lock'"
            ).fetchall()
        found[:] = [
            (pid, name) for pid, name in ((pid, app.rsplit("-", 1)[1]) for pid, app in rows)
            if task_id is None or f"[{task_id}] received" in cluster.workers[name].output
        ]
        return bool(found)

    wait_until(look, timeout=timeout, what="a worker to reach the invoice number")
    return found[0]


def has_written_to_the_ledger(pid):
    with psycopg.connect(this_runs_database_url(), autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_locks WHERE pid = %s AND mode = 'RowExclusiveLock' "
            "AND relation = 'billing_ledgerentry'::regclass", [pid]
        ).fetchone()[0] > 0


def backend_gone(pid):
    with psycopg.connect(this_runs_database_url(), autocommit=True) as conn:
        return not conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()


def pool_process_of(worker, backend_pid):
    """The pid of `worker`'s pool process whose database session is `backend_pid` (the
    process that owns the client end of that session's TCP connection)."""
    with psycopg.connect(this_runs_database_url(), autocommit=True) as conn:
        (port,) = conn.execute("SELECT client_port FROM pg_stat_activity WHERE pid = %s", [backend_pid]).fetchone()
    sockets = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                sockets.add(f"socket:[{fields[9]}]")
    main = worker.popen.pid
    for child in Path(f"/proc/{main}/task/{main}/children").read_text().split():
        for fd in Path(f"/proc/{child}/fd").iterdir():
            try:
                if os.readlink(fd) in sockets:
                    return int(child)
            except OSError:
                continue
    raise AssertionError(f"no pool process of the worker holds the session {backend_pid}")


def received_task_id(output, task_name):
    return re.findall(rf"Task {re.escape(task_name)}\[([\w-]+)\] received", output)[-1]


def kill_mid_transaction(cluster, task_id=None):
    """SIGKILL the worker that stands inside a money movement; its name and task's log."""
    pid, victim = blocked_worker_backend(cluster, task_id)
    assert has_written_to_the_ledger(pid)  # the movement is half done, in its transaction
    output = cluster.workers[victim].output
    cluster.kill_worker(victim)
    return pid, victim, output


def test_a_worker_killed_in_the_middle_of_a_cycle_close_leaves_nothing_half_done_and_the_close_completes_once(
    cluster,
):
    tenant = Tenant("interrupted")
    cycle = ended_cycle(tenant)
    balance_before = tenant.balance()
    with invoice_numbers_held():
        (task_id,) = send("billing.tasks.close_due_cycles")
        pid, victim, _output = kill_mid_transaction(cluster, task_id)
    wait_until(lambda: backend_gone(pid), timeout=30, what="PostgreSQL to end the killed worker's session")
    cycle.refresh_from_db()
    # Rolled back whole: no expiry, no invoice, the cycle still open, the balance as it was.
    assert cycle.closed_at is None and not Invoice.objects.filter(cycle=cycle).exists()
    assert not LedgerEntry.objects.filter(reference=f"cycle:{cycle.pk}:expiry").exists()
    assert BillingCycle.objects.filter(workspace=tenant.workspace).count() == 1  # no next cycle yet
    assert tenant.balance() == balance_before

    # The broker hands the unacknowledged message to the other worker; it closes the cycle once.
    wait_for_results(cluster, [task_id], timeout=VISIBILITY_TIMEOUT + 40)
    assert sum(cluster.closes_since_mark()) == 1
    assert_closed_once(tenant, cycle)
    assert "all balanced" in ledger_ok()


def test_a_pool_process_killed_in_the_middle_of_a_cycle_close_hands_its_task_back_and_it_completes_once(
    cluster,
):
    """The machine lives, one pool process dies (the kernel's out-of-memory killer): its
    worker puts the task back on the queue (reject on worker lost) instead of counting it
    failed, and a worker runs it again."""
    tenant = Tenant("oom")
    cycle = ended_cycle(tenant)
    with invoice_numbers_held():
        (task_id,) = send("billing.tasks.close_due_cycles")
        pid, victim = blocked_worker_backend(cluster, task_id)
        assert has_written_to_the_ledger(pid)
        os.kill(pool_process_of(cluster.workers[victim], pid), signal.SIGKILL)
        wait_until(lambda: "WorkerLostError" in cluster.workers[victim].output, timeout=30,
                   what="the worker to notice its pool process died")
    wait_until(lambda: backend_gone(pid), timeout=30, what="PostgreSQL to end the killed process's session")
    wait_for_results(cluster, [task_id], timeout=VISIBILITY_TIMEOUT + 40)
    assert sum(cluster.closes_since_mark()) == 1
    assert_closed_once(tenant, cycle)
    assert "all balanced" in ledger_ok()


def test_a_worker_killed_in_the_middle_of_a_recharge_leaves_nothing_half_done_and_the_recharge_completes_once(
    cluster,
):
    tenant = Tenant("recharging", credits=1_000)
    method = sandbox.put({"id": f"pm_sbx_{uuid.uuid4().hex[:12]}_visa", "object": "payment_method",
                          "type": "card", "card": {"brand": "visa", "last4": "4242"}})
    card_on_file(tenant.workspace, method=method["id"])
    turn_on(tenant.workspace, tenant.owner, threshold=900, amount=5_000)
    with invoice_numbers_held():
        # 40 pages: 240 credits, below the threshold: the web process enqueues the recharge.
        status, _ = tenant.usage(cluster.ports["a"], "req_big", pages=40)
        assert status == 200
        balance_before = tenant.balance()
        pid, victim, victim_output = kill_mid_transaction(cluster)
    task_id = received_task_id(victim_output, "billing.tasks.recharge_attempt_charge")
    wait_until(lambda: backend_gone(pid), timeout=30, what="PostgreSQL to end the killed worker's session")
    attempt = RechargeAttempt.objects.get(workspace=tenant.workspace)
    assert attempt.status == "pending"
    assert not LedgerEntry.objects.filter(workspace=tenant.workspace, kind=EntryKind.AUTO_RECHARGE).exists()
    assert tenant.balance() == balance_before

    assert wait_for_results(cluster, [task_id], timeout=VISIBILITY_TIMEOUT + 40) == ["'succeeded'"]
    attempt.refresh_from_db()
    assert attempt.status == "succeeded"
    recharges = LedgerEntry.objects.filter(workspace=tenant.workspace, kind=EntryKind.AUTO_RECHARGE)
    assert recharges.count() == 1 and recharges.get().amount_micro == 5_000 * MICRO
    assert tenant.balance() == balance_before + 5_000 * MICRO
    # "Stripe" (the sandbox) charged the card once: the retry reused the attempt's key.
    charges = SandboxObject.objects.filter(object="charge", data__payment_intent=attempt.payment_intent_id)
    assert charges.count() == 1
    assert SandboxObject.objects.filter(object="payment_intent").count() == 1
    assert "all balanced" in ledger_ok()
