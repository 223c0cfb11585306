"""Shared fixtures: users in every role, service requirements, and a clean cache per test.

Tests that need PostgreSQL, Redis or Chromium skip where those are absent, except under
REQUIRE_SERVICES=1 / REQUIRE_BROWSER=1 (CI), where they fail instead.
"""

import functools
import os
import shutil

import pytest
from django.conf import settings
from django.core.cache import cache

from config.ttlcache import ttl_caches_clear
from pricing.catalog import catalog_forget_local
from tests.factories import UserFactory, WorkspaceFactory, add_member

CHROMIUM = "/usr/bin/chromium"


def _missing(what, env_flag):
    if os.environ.get(env_flag) == "1":
        pytest.fail(f"{what} is required here ({env_flag}=1) but is not available.")
    pytest.skip(f"{what} is not available; set it up or run in CI.")


@pytest.fixture(autouse=True)
def _service_markers(request):
    if request.node.get_closest_marker("postgres") and not settings.IS_POSTGRES:
        _missing("PostgreSQL (DATABASE_URL=postgres://...)", "REQUIRE_SERVICES")
    if request.node.get_closest_marker("redis") and not settings.REDIS_URL:
        _missing("Redis (REDIS_URL=redis://...)", "REQUIRE_SERVICES")
    if request.node.get_closest_marker("browser") and not shutil.which(CHROMIUM):
        _missing(f"Chromium at {CHROMIUM}", "REQUIRE_BROWSER")


@pytest.fixture(autouse=True)
def _fast_and_clean(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()  # rate limits and cached keys never leak from one test into the next
    catalog_forget_local()
    ttl_caches_clear()  # keys and cycle starts looked up by an earlier test
    yield


DATA_MIGRATIONS = [
    ("billing.migrations.0002_load_plans", "load"),
    ("billing.migrations.0005_invoice_counter_row", "create"),
    ("billing.migrations.0009_load_credit_packs", "load"),
    ("usage.migrations.0002_load_prices", "load"),
]


def _uses_transactions(item):
    marker = item.get_closest_marker("django_db")
    transactional = bool(marker and marker.kwargs.get("transaction"))
    return transactional or bool({"transactional_db", "live_server"} & set(item.fixturenames))


def _checks_the_ledger(item):
    """Every test that used the database, except the one that unbalances a workspace on
    purpose and those that run with the database unreachable."""
    uses_db = item.get_closest_marker("django_db") or {"db", "transactional_db", "live_server"} & set(
        getattr(item, "fixturenames", ())
    )
    exempt = item.get_closest_marker("ledger_unbalanced") or "database_down" in getattr(item, "fixturenames", ())
    return bool(uses_db) and not exempt


def _assert_ledger_balanced(item):
    """What `manage.py check_ledger` proves, after each test and before its data is rolled
    back or flushed: every balance equals the sum of its ledger; and every usage day total
    (billing.models.UsageDayTotal) equals that day's usage charges."""
    from billing.ledger import ledger_mismatches, usage_day_mismatches

    mismatches = ledger_mismatches()
    assert not mismatches, f"{item.nodeid} left balances off their ledger: {mismatches}"
    days = usage_day_mismatches()
    assert not days, f"{item.nodeid} left usage day totals off their ledger: {days}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Before fixtures are torn down: the ledger check. After: a transactional test ends by
    emptying every table, also the plans and prices that data migrations loaded. Put them back once its fixtures are torn down, so the tests after
    it see a migrated database."""
    from pytest_django.plugin import blocking_manager_key

    if _checks_the_ledger(item):
        with item.config.stash[blocking_manager_key].unblock():
            _assert_ledger_balanced(item)
    yield
    if nextitem is None or not _uses_transactions(item):
        return  # (after the last test the test database is already gone)
    from importlib import import_module

    with item.config.stash[blocking_manager_key].unblock():
        for module, function in DATA_MIGRATIONS:
            getattr(import_module(module), function)(_migration_apps(module), None)
        cache.clear()


@functools.cache
def _migration_apps(module):
    """The models as the data migration `module` saw them (the prices' models have since
    moved from usage to pricing, under the same tables)."""
    from django.db.migrations.loader import MigrationLoader

    app_label, _, name = module.split(".")
    return MigrationLoader(None, ignore_no_migrations=True).project_state((app_label, name)).apps


@pytest.fixture(autouse=True, scope="session")
def _celery_eager():
    """Tasks run in-process in tests; tests of a real worker switch this off themselves."""
    from config.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """`with committed(): write()`: what follows a commit (billing.credits listeners, cache
    bumps) runs at the block's end, as it would when a real transaction commits. Tests
    run inside a transaction that never commits."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def owner(db):
    return UserFactory(email="owner@example.com")


@pytest.fixture
def workspace(owner):
    return WorkspaceFactory(owner=owner, name="Acme")


@pytest.fixture
def admin_user(workspace):
    return add_member(workspace, "admin@example.com", "admin")


@pytest.fixture
def member(workspace):
    return add_member(workspace, "member@example.com", "member")


@pytest.fixture
def outsider(db):
    """A user with a workspace of their own and no place in `workspace`."""
    user = UserFactory(email="outsider@example.com")
    WorkspaceFactory(owner=user, name="Other Co")
    return user


@pytest.fixture
def client_for(client):
    """client_for(user): a test client logged in as that user."""

    def login(user):
        client.force_login(user)
        return client

    return login
