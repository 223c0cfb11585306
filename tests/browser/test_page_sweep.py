"""Every page of the seeded demo, as each kind of person, on a laptop and on a phone.

For each role (owner, admin, member, staff, a brand-new sign-up) the test follows every
link from the pages it reaches, at 1366 and at 390 pixels wide, and fails for a page that
answers an error, scrolls sideways, or has a serious or critical accessibility violation
found by axe-core. Screenshots of every page go to var/screenshots/ so a person can look.
"""

import re
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from teams import demo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
WIDTHS = (1366, 390)
SERIOUS = {"serious", "critical"}
MAX_PAGES = 40  # per role: far above what the demo has, low enough to stop a link loop

# Links not followed: leaving (log out), downloads (CSV, PDF), the JSON API, and Django's
# admin, whose pages are Django's own (staff's landing page links to it and is checked).
SKIP = re.compile(r"^/(accounts/logout/|admin/|api/(?!v1/docs$)|billing/stripe/)|\.(csv|pdf|json)$")

# Pages nothing links to for a signed-in person, or that only a visitor sees.
VISITOR_PAGES = ("/accounts/login/", "/accounts/signup/", "/accounts/password/reset/", "/pricing",
                 "/api/v1/docs")
START_PAGES = ("/", "/pricing", "/api/v1/docs", "/accounts/email/", "/accounts/password/change/")


@pytest.fixture
def seeded(transactional_db):
    call_command("seed_demo", stdout=open("/dev/null", "w"))


def new_sign_up(live_server):
    """A person who just signed up and confirmed their address, through the real forms."""
    client = Client()
    email, password = "newcomer@startup.test", "a-long-sweep-passphrase-7"
    client.post("/accounts/signup/", {"email": email, "password1": password, "password2": password})
    confirm = re.search(r"/accounts/confirm-email/[^/\s]+/", mail.outbox[-1].body).group(0)
    client.post(confirm)
    return User.objects.get(email=email)


def signed_in_context(browser, live_server, user, width):
    context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": 900})
    if user is not None:
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    return context


def same_site_links(page, live_server):
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
    paths = []
    for href in hrefs:
        url = urlsplit(urljoin(page.url, href))
        if f"{url.scheme}://{url.netloc}" != live_server.url or SKIP.search(url.path):
            continue
        paths.append(url.path + (f"?{url.query}" if url.query else ""))
    return paths


def page_problems(page, response, width, axe):
    problems = []
    if response is None or response.status >= 400:
        problems.append(f"answered {response.status if response else 'nothing'}")
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    if scroll_width > width:
        wide = page.evaluate(WIDEST_ELEMENTS, width)
        problems.append(f"scrolls sideways: {scroll_width} px wide; overflowing: {wide}")
    for violation in axe.run(page).response["violations"]:
        if violation["impact"] in SERIOUS:
            targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:3]]
            problems.append(f"axe {violation['impact']} {violation['id']}: {violation['help']} at {targets}")
    return problems


# The outermost elements that stick out past the viewport's right edge: where to look.
WIDEST_ELEMENTS = """width => {
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.right > width + 1 && !(el.parentElement && el.parentElement.getBoundingClientRect().right > width + 1)) {
      out.push(el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '') + ' (' + Math.round(r.right) + ')');
    }
  }
  return out.slice(0, 4);
}"""


def page_kind(link):
    """One visit per page of a kind: /settings/team/members/2/remove/ stands for every member's."""
    return re.sub(r"/\d+/", "/N/", urlsplit(link).path)


def screenshot_name(role, width, path):
    slug = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"
    return SCREENSHOTS / f"{role}-{width}-{slug[:80]}.png"


def sweep(browser, live_server, role, user, start_pages):
    """Visit every page reachable from start_pages at each width; {(width, path): problems}."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    found, visited = {}, []
    for width in WIDTHS:
        context = signed_in_context(browser, live_server, user, width)
        page = context.new_page()
        page.set_default_timeout(20_000)
        queue = list(start_pages) if width == WIDTHS[0] else list(visited)
        seen = {page_kind(p) for p in queue}
        while queue:
            path = queue.pop(0)
            try:
                response = page.goto(path)
            except Exception as error:  # a link that downloads a file is not a page
                if "Download is starting" in str(error):
                    continue
                raise
            if width == WIDTHS[0]:
                visited.append(path)
                for link in same_site_links(page, live_server):
                    if page_kind(link) not in seen and len(seen) < MAX_PAGES:
                        seen.add(page_kind(link))
                        queue.append(link)
            problems = page_problems(page, response, width, axe)
            if problems:
                found[(width, path)] = problems
            page.screenshot(path=str(screenshot_name(role, width, path)), full_page=True)
        context.close()
    return visited, found


def report(role, found):
    return f"{role}: " + "\n".join(
        f"  {width} px {path}\n    " + "\n    ".join(problems) for (width, path), problems in sorted(found.items())
    )


ROLES = {
    "owner": lambda live_server: User.objects.get(email="owner@acme.test"),
    "admin": lambda live_server: User.objects.get(email="admin@acme.test"),
    "member": lambda live_server: User.objects.get(email="member@acme.test"),
    "staff": lambda live_server: User.objects.get(email=demo.STAFF_EMAIL),
    "newcomer": new_sign_up,
}


@pytest.mark.parametrize("role", ROLES)
def test_every_page_fits_answers_and_passes_axe(browser, live_server, seeded, role):
    user = ROLES[role](live_server)
    visited, found = sweep(browser, live_server, role, user, START_PAGES)
    assert len(visited) >= 4, visited  # the crawl reached the app, not just a login page
    assert not found, report(role, found)


def test_the_pages_before_signing_in_fit_answer_and_pass_axe(browser, live_server, seeded):
    visited, found = sweep(browser, live_server, "visitor", None, VISITOR_PAGES)
    assert set(VISITOR_PAGES) <= set(visited)
    assert not found, report("visitor", found)
