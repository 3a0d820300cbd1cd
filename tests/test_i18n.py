"""The interface speaks Simplified Chinese: every string the code marks must be translated.

The catalogue is regenerated from the sources in a scratch copy of the project (as `make messages`
does), so a string added without a zh-Hans translation fails here, not in front of a user.
"""

import gettext
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

ROOT = Path(settings.BASE_DIR)
PO = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
SKIP_DIRS = {".venv", "var", "node_modules", ".git", "static", ".pytest_cache", ".hypothesis"}


@pytest.fixture(scope="module")
def extracted_catalogue(tmp_path_factory) -> polib.POFile:
    copy = tmp_path_factory.mktemp("icr") / "src"
    shutil.copytree(
        ROOT,
        copy,
        ignore=lambda d, names: [n for n in names if n in SKIP_DIRS or n.endswith(".pyc")],
    )
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "makemessages",
            "-l",
            "zh_Hans",
            "--no-obsolete",
            "--ignore=tests/*",
            "--ignore=bench/*",
        ],
        cwd=copy,
        check=True,
        capture_output=True,
        env={**_env(), "ICR_DEV": "1"},
    )
    return polib.pofile(str(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"))


def _env():
    import os

    return {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}


def test_every_marked_string_has_a_zh_hans_translation(extracted_catalogue):
    missing = [
        entry.msgid
        for entry in extracted_catalogue
        if not entry.obsolete and (not entry.translated() or entry.fuzzy)
    ]
    assert missing == [], f"{len(missing)} strings lack a zh-Hans translation: {missing[:30]}"


def test_compiled_catalogue_matches_the_po_file():
    po = polib.pofile(str(PO))
    with MO.open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    stale = [
        e.msgid
        for e in po.translated_entries()
        if not e.msgid_plural and not e.msgctxt and compiled.gettext(e.msgid) != e.msgstr
    ]
    assert stale == [], f"locale .mo is out of date, run `make compilemessages`: {stale[:10]}"


def test_chinese_browser_gets_chinese_and_others_english(db):
    zh = Client(HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").get("/accounts/login/")
    en = Client(HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").get("/accounts/login/")
    assert zh.headers["Content-Language"] == "zh-hans"
    assert en.headers["Content-Language"] == "en"
    with translation.override("zh-hans"):
        assert translation.gettext("My relationships") != "My relationships"


def test_language_switch_sticks(db):
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
    client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    assert client.get("/accounts/login/").headers["Content-Language"] == "en"


def test_the_admin_scripts_speak_chinese_to_hr(admin_client):
    # Django 5.2's own zh-Hans catalog lacks the two-box picker's newer strings ("Choose all
    # 评估维度" on the cycle form); locale/zh_Hans/LC_MESSAGES/djangojs.po fills them.
    import json
    import re

    import django

    scripts = Path(django.__file__).parent / "contrib/admin/static/admin/js"
    used = {
        text.replace("\\'", "'")
        for script in scripts.glob("*.js")
        if ".min." not in script.name
        for text in re.findall(r"gettext\('((?:[^'\\]|\\.)*)'\)", script.read_text())
    }
    body = admin_client.get("/admin/jsi18n/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    catalog = json.loads(re.search(r"const newcatalog = (\{.*?\});", body, re.S).group(1))
    assert "Choose all %s" in used
    assert sorted(used - set(catalog)) == []
