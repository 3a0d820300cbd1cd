"""Every page sends a strict Content-Security-Policy, and nothing ICR renders needs it relaxed.

The policy (icr/settings.py) allows script and style from ICR's origin only. The browser tests
fail on any violation a page reports (tests/browser/chromium.py); the checks here catch inline
script and style in the sources, including in pages no browser test opens.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
STRICT = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "img-src": {"'self'", "data:"},
    "object-src": {"'none'"},
    "base-uri": {"'self'"},
    "form-action": {"'self'"},
    "frame-ancestors": {"'none'"},
}
# What the policy refuses, as it appears in a template or in HTML built in Python.
INLINE = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "event handler attribute": re.compile(r"""\son[a-z]+\s*=\s*["'{]""", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
    "<style> block": re.compile(r"<style\b", re.IGNORECASE),
    "style attribute": re.compile(r"""\sstyle\s*=\s*["'{]""", re.IGNORECASE),
}


def _policy(response) -> dict[str, set[str]]:
    directives = (d.split() for d in response["Content-Security-Policy"].split(";"))
    return {name: set(values) for name, *values in directives}


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_a_page_sends_the_strict_content_security_policy(client, url):
    response = client.get(url)

    assert response.status_code == 200
    assert _policy(response) == STRICT


@pytest.mark.django_db
def test_a_signed_in_page_sends_the_policy_too(client, company):
    client.force_login(company["seller"].user)

    response = client.get("/me/relationships/")

    assert response.status_code == 200
    assert _policy(response) == STRICT


def _sources():
    yield from sorted((ROOT / "templates").rglob("*.html"))
    for app in ("icr", "relations", "reviews"):
        yield from sorted(p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts)


def test_templates_and_html_built_in_python_have_no_inline_script_or_style():
    found = [
        f"{path.relative_to(ROOT)}:{number}: {what}: {line.strip()}"
        for path in _sources()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if not line.lstrip().startswith("#")  # a Python comment renders nothing
        for what, pattern in INLINE.items()
        if pattern.search(line)
    ]

    assert not found, "\n".join(found)


def test_the_source_check_finds_what_the_policy_refuses():
    samples = {
        "inline script": "<script>alert(1)</script>",
        "event handler attribute": '<select onchange="this.form.submit()">',
        "javascript: URL": '<a href="javascript:void(0)">',
        "<style> block": "<style>.x{}</style>",
        "style attribute": '<span style="padding-left: {}em">',
    }

    missed = [what for what, text in samples.items() if not INLINE[what].search(text)]
    assert not missed
    assert not any(p.search('<script src="/static/icr/icr.js"></script>') for p in INLINE.values())
    assert not any(p.search("<select data-icr-autosubmit>") for p in INLINE.values())
