"""Front-end packages are pinned, vendored under static/vendor/ and loaded from our own host."""

import hashlib
import json
import re
from pathlib import Path

from django.conf import settings

BASE = Path(settings.BASE_DIR)
VENDOR = BASE / "static" / "vendor"
REQUIRED = [
    "bootstrap/bootstrap.min.css",
    "bootstrap/bootstrap.bundle.min.js",
    "echarts/echarts.min.js",
    "htmx/htmx.min.js",
    "axe-core/axe.min.js",
]
# An attribute or CSS url() that points at another host: http://, https:// or protocol-relative.
EXTERNAL_ASSET = re.compile(
    r"""(?:\b(?:src|href|srcset|action|data-src)\s*=\s*["']?|url\(\s*["']?|@import\s+["'])"""
    r"""\s*(?:https?:)?//""",
    re.IGNORECASE,
)


def _sums() -> dict[str, str]:
    sums = {}
    for line in (VENDOR / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name.strip()] = digest
    return sums


def test_every_vendored_file_matches_its_sha256_sum():
    sums = _sums()
    for name in REQUIRED:
        assert name in sums, f"{name} is not listed in static/vendor/SHA256SUMS"
    for name, digest in sums.items():
        data = (VENDOR / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, f"{name} differs from SHA256SUMS"


def test_static_vendor_holds_no_file_missing_from_the_sums():
    on_disk = {str(p.relative_to(VENDOR)) for p in VENDOR.rglob("*") if p.is_file()} - {
        "SHA256SUMS"
    }
    assert on_disk == set(_sums())


def test_package_json_pins_exact_versions_that_the_lock_file_records():
    package = json.loads((BASE / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((BASE / "package-lock.json").read_text(encoding="utf-8"))
    deps = package["dependencies"]
    assert {"bootstrap", "echarts", "htmx.org"} <= deps.keys()
    assert re.fullmatch(r"5\.3\.\d+", deps["bootstrap"])
    assert re.fullmatch(r"[56]\.\d+\.\d+", deps["echarts"])
    assert re.fullmatch(r"2\.\d+\.\d+", deps["htmx.org"])
    # axe-core: only for the browser tests (tests/browser/axe.py).
    dev = package["devDependencies"]
    assert set(dev) == {"axe-core"} and re.fullmatch(r"4\.\d+\.\d+", dev["axe-core"])
    for name, version in {**deps, **dev}.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is not pinned exactly"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version


def test_vendored_files_are_the_pinned_versions():
    package = json.loads((BASE / "package.json").read_text(encoding="utf-8"))
    deps = package["dependencies"]
    head = {
        "bootstrap": (VENDOR / "bootstrap/bootstrap.min.css").read_text(encoding="utf-8")[:200],
        "htmx.org": (VENDOR / "htmx/htmx.min.js").read_text(encoding="utf-8"),
        "echarts": (VENDOR / "echarts/echarts.min.js").read_text(encoding="utf-8"),
    }
    assert f"Bootstrap  v{deps['bootstrap']}" in head["bootstrap"]
    assert f'version:"{deps["htmx.org"]}"' in head["htmx.org"]
    assert f'"{deps["echarts"]}"' in head["echarts"]


def _own_front_end_files() -> list[Path]:
    """Project templates, app templates and our own static files (vendor files are upstream's)."""
    roots = [BASE / "templates", BASE / "static", BASE / "relations", BASE / "reviews"]
    files = []
    for root in roots:
        for pattern in ("*.html", "*.css", "*.js"):
            files.extend(p for p in root.rglob(pattern) if "vendor" not in p.parts)
    return files


def test_templates_load_no_asset_from_another_host():
    files = _own_front_end_files()
    assert any(p.name == "base.html" for p in files)
    offenders = [
        f"{path.relative_to(BASE)}: {match.group(0)}"
        for path in files
        for match in EXTERNAL_ASSET.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_external_asset_pattern_catches_cdn_links():
    assert EXTERNAL_ASSET.search('<script src="https://cdn.jsdelivr.net/npm/x.js"></script>')
    assert EXTERNAL_ASSET.search("<link href='//fonts.googleapis.com/css' rel=stylesheet>")
    assert EXTERNAL_ASSET.search("body { background: url( 'http://example.com/a.png') }")
    assert not EXTERNAL_ASSET.search('<script src="/static/vendor/htmx/htmx.min.js"></script>')


def test_no_page_loads_axe_core():
    """axe-core is vendored for the browser tests only, which evaluate it in the page."""
    for template in (BASE / "templates").rglob("*.html"):
        assert "axe-core" not in template.read_text(encoding="utf-8"), template
