"""The project explains itself: nothing points outside the repository, and docs/api.md
names every JSON route the code serves.

A fresh clone has no specification folder beside it, so a file citing one sends the
reader nowhere; docs/api.md and docs/design.md are where the contract and the rules live.
"""

import os
import re
import subprocess
from pathlib import Path

from django.urls import URLPattern, URLResolver, get_resolver

ROOT = Path(__file__).resolve().parent.parent
# Built in pieces so this file does not match itself.
OUTSIDE = [b".." + b"/shared", b"/work" + b"/shared"]
# A specification file cited by its bare name (docs/api.md and docs/design.md are fine).
# The specification's names are upper case; the repository's own docs are lower case.
BARE_SPEC = re.compile(rb"(?<![\w/.-])(?:API|DESIGN|RELIABILITY|STYLE|UI)" + rb"\.md")
SKIP_DIRS = {".git", ".venv", "var", "node_modules", "__pycache__", ".pytest_cache"}


def _tracked_files():
    """The files git tracks; a copy without git (an unpacked archive) is walked instead."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30
        ).stdout
        return [ROOT / name for name in out.decode().split("\0") if name]
    except (OSError, subprocess.SubprocessError):
        found = []
        for folder, dirs, files in os.walk(ROOT):
            dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
            found.extend(Path(folder) / name for name in files)
        return found


def _offenders(pattern_finder):
    hits = []
    for path in _tracked_files():
        if not path.is_file():
            continue  # deleted in the working tree but still in the index
        for number, line in enumerate(path.read_bytes().splitlines(), 1):
            if pattern_finder(line):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.decode(errors='replace').strip()}")
    return hits


def test_no_file_points_outside_the_repository():
    hits = _offenders(lambda line: any(needle in line for needle in OUTSIDE))
    assert not hits, "Cite docs/api.md or docs/design.md instead:\n" + "\n".join(hits)


def test_no_file_cites_a_specification_by_bare_name():
    hits = _offenders(lambda line: BARE_SPEC.search(line) is not None)
    assert not hits, "Cite docs/api.md or docs/design.md instead:\n" + "\n".join(hits)


def _anchors(page):
    """The #anchors of a markdown page's headings, as GitHub makes them."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), re.M)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def test_relative_links_in_the_docs_lead_somewhere():
    broken = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)", page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            linked = page.parent / target if target else page
            if not linked.exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                broken.append(f"{page.relative_to(ROOT)} -> {target}#{anchor} (no such heading)")
    assert not broken, "Links to missing files or headings:\n" + "\n".join(broken)


def _routes(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern)


def test_every_json_route_is_in_docs_api():
    text = (ROOT / "docs" / "api.md").read_text()
    # A converter (<str:id>) is written as {id} in the doc.
    routes = {
        "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
        for route in _routes(get_resolver().url_patterns)
        if route.startswith("api/")
    }
    missing = sorted(route for route in routes if route not in text)
    assert routes and not missing, "Document these routes in docs/api.md: " + ", ".join(missing)
