"""The API docs page (/api/v1/docs): an example request and answer for every route, plain
text without markdown, anchors that lead somewhere, and the gateway's routes apart from a
customer's."""

import re
from html.parser import HTMLParser

import jsonschema_rs
import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from usage.api_examples import EXAMPLES
from usage.openapi import openapi_document

pytestmark = pytest.mark.django_db

# The page itself is HTML for people, not a route of the API.
NOT_API_ROUTES = {"/api/v1/docs"}
GATEWAY_ROUTES = {"/api/v1/gateway/authorize", "/api/v1/gateway/usage"}


def urlconf_api_paths(patterns=None, prefix=""):
    """Every route of the URLconf under /api/, in OpenAPI's spelling (<path:id> -> {id})."""
    paths = set()
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            paths |= urlconf_api_paths(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and route.startswith("api/"):
            paths.add("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route))
    return paths


class PageParts(HTMLParser):
    """ids, in-page links, the visible text, and which section each route heading is in."""

    def __init__(self):
        super().__init__()
        self.ids, self.links, self.text, self.section_of = [], [], [], {}
        self._sections, self._in_code = [], 0
        self._heading = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "a" and attrs.get("href", "").startswith("#"):
            self.links.append(attrs["href"][1:])
        if tag == "section" and attrs.get("class") == "api-section":
            self._sections.append(attrs["id"])
        if tag == "h3" and "api-op" not in attrs.get("class", "") and self._sections:
            self._heading = []

    def handle_endtag(self, tag):
        if tag == "h3" and self._heading is not None:
            heading = "".join(self._heading).split()
            if len(heading) == 2:
                self.section_of[heading[1]] = self._sections[-1]
            self._heading = None

    def handle_data(self, data):
        self.text.append(data)
        if self._heading is not None:
            self._heading.append(data)


@pytest.fixture
def page(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    parts = PageParts()
    parts.feed(html)
    parts.html = html
    return parts


def test_every_api_route_of_the_urlconf_has_an_example_request_and_answer(page):
    document = openapi_document()
    routes = urlconf_api_paths() - NOT_API_ROUTES
    assert "/api/v1/gateway/usage" in routes and "/api/v1/balance" in routes  # the walk works
    for path in sorted(routes):
        assert path in document["paths"], f"{path} is served but not in the API document"
        for method, operation in document["paths"][path].items():
            assert (method, path) in EXAMPLES, f"{method.upper()} {path} has no example"
            example = EXAMPLES[method, path]
            assert operation["responses"]["200"]["content"]["application/json"]["example"] == example["answer"]
            op_html = page.html.split(f'id="{operation["operationId"]}"', 1)[1].split('class="card api-op"', 1)[0]
            assert "Example request" in op_html and "curl" in op_html and "Its answer" in op_html, path


def test_every_example_is_valid_for_its_route(page):
    """An example that disagrees with the document would teach the wrong thing."""
    document = openapi_document()
    for (method, path), example in EXAMPLES.items():
        if path not in document["paths"]:
            continue  # a route yet to come
        operation = document["paths"][path][method]
        answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
        validate(example["answer"], answer, document)
        if "body" in example:
            validate(example["body"], operation["requestBody"]["content"]["application/json"]["schema"], document)
        for parameter in operation.get("parameters", []):
            if "example" in parameter:
                validate(parameter["example"], parameter["schema"], document)


def validate(instance, schema, document):
    # The refs point at #/components/...: give the schema the document's components as its root.
    jsonschema_rs.Draft202012Validator({**schema, "components": document["components"]}).validate(instance)


def test_every_in_page_anchor_leads_somewhere_and_ids_are_unique(page):
    assert page.links, "the page has in-page links"
    missing = sorted(set(page.links) - set(page.ids))
    assert not missing, f"links to no element: {missing}"
    duplicates = sorted({i for i in page.ids if page.ids.count(i) > 1})
    assert not duplicates, duplicates


def test_the_page_shows_no_stray_markdown(page):
    text = "".join(page.text)
    assert "`" not in text
    assert ".;" not in text and ".)" not in text
    assert "<code>invalid_api_key</code>" in page.html


def test_the_gateways_routes_are_in_their_own_section_for_operators(page):
    text = "".join(page.text)
    assert "Gateway and operations routes, for the platform's operators" in text
    assert "The inference gateway calls these with a service token" in text
    for path in GATEWAY_ROUTES:
        assert page.section_of[path] == "operators", path
    customer = {path for path, section in page.section_of.items() if section == "customer"}
    assert {"/api/v1/balance", "/api/v1/usage", "/api/v1/prices/quote"} <= customer
    assert not customer & GATEWAY_ROUTES
