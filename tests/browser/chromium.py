"""Debian's chromium through Playwright, for every browser test.

`launch()` starts it headless and hands out browser contexts only through `new_context`, which
watches each one's console: a page that reports a Content-Security-Policy violation fails the
test, so the policy (icr/settings.py, CONTENT_SECURITY_POLICY) holds on every page a browser test
visits, ICR's and the admin's. A missing chromium fails the test too: it must never pass by not
running.
"""

import contextlib
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
# Screenshots of each flow, kept as the artefacts (var/ is git-ignored).
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
# Chromium's console message for any refused script, style, image, frame or form target.
CSP_VIOLATION = "Content Security Policy"


class Chromium:
    """A launched chromium whose every context reports CSP violations to `csp_violations`."""

    def __init__(self, browser: Browser):
        self._browser = browser
        self.csp_violations: list[str] = []

    def new_context(self, **kwargs) -> BrowserContext:
        context = self._browser.new_context(**kwargs)
        context.on("console", self._on_console)
        return context

    def _on_console(self, message: ConsoleMessage) -> None:
        if CSP_VIOLATION in message.text:
            self.csp_violations.append(f"{message.location.get('url', '?')}: {message.text}")


@contextlib.contextmanager
def launch() -> Iterator[Chromium]:
    """Chromium for one test; on leaving, fails if any page reported a CSP violation."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install chromium"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        chromium = Chromium(browser)
        try:
            yield chromium
        finally:
            browser.close()
    assert not chromium.csp_violations, "Content-Security-Policy violations:\n" + "\n".join(
        chromium.csp_violations
    )
