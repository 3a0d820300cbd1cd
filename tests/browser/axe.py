"""axe-core, vendored under static/vendor/axe-core/ (package.json, `make vendor`), run in a page.

No page of ICR loads it: `violations` evaluates its source in the page through the DevTools
protocol, which the Content-Security-Policy does not govern (a <script> tag would need the
policy to allow it, and an inline one is refused).
"""

from functools import cache
from pathlib import Path

from django.conf import settings

AXE = Path(settings.BASE_DIR) / "static" / "vendor" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


@cache
def _source() -> str:
    return AXE.read_text(encoding="utf-8")


def violations(page, impacts=BLOCKING) -> list[dict]:
    """axe's violations on the page as it is now, of these impacts: id, impact, help and the
    first few elements."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_source())
    found = page.evaluate(
        """async () => {
            const result = await axe.run(document, { resultTypes: ["violations"] });
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ")),
            }));
        }"""
    )
    return [v for v in found if v["impact"] in impacts]


def describe(found: list[dict]) -> str:
    return "\n".join(f"{v['impact']} {v['id']}: {v['help']} {v['nodes']}" for v in found)
