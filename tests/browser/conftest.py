"""Playwright driving Debian's Chromium against the live test server.

Never `playwright install`: browsers cannot be downloaded here; /usr/bin/chromium is used.
Screenshots go to test-artifacts/ so a person can look at them.
"""

import os
from pathlib import Path

import pytest
from django.db import connections

# Playwright's sync API keeps an event loop in this thread; the test's own ORM calls are
# still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path("/usr/bin/chromium").exists():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is required (REQUIRE_BROWSER=1) but /usr/bin/chromium is missing.")
        pytest.skip("Chromium is not installed at /usr/bin/chromium.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
            browser.close()
        finally:
            # While Playwright's sync API is active this thread reports a running asyncio loop,
            # so Django's connection handler (asgiref Local) keeps this thread's connections in
            # a separate context-var store, used by every test from the first browser test on.
            # Close them now: once Playwright stops they are unreachable, destroy_test_db closes
            # only the original connection, and the one left open blocked dropping the test DB.
            connections.close_all()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 860})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def screenshot():
    """screenshot(page, "name"): saves test-artifacts/name.png (full page) and returns its path."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name):
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def log_in(page, email, password):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
