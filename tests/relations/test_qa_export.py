"""An export HR opens in Excel on Chinese Windows, edits and imports again."""

from io import StringIO

import pytest
from django.core.management import call_command

from relations.importing import ImportSource, plan_import
from tests.relations.import_helpers import formula_like_org, import_ok


@pytest.mark.django_db
def test_excel_export_starts_with_a_bom_and_imports_back_unchanged(tmp_path):
    import_ok()

    call_command("export_org", str(tmp_path), "--excel", stdout=StringIO())

    files = {
        name: (tmp_path / f"{name}.csv").read_bytes()
        for name in ("departments", "employees", "relations")
    }
    assert all(data.startswith(b"\xef\xbb\xbf") for data in files.values())
    assert "王总".encode() in files["employees"]
    plan = plan_import(**{name: ImportSource(f"{name}.csv", data) for name, data in files.items()})
    assert plan.errors == []
    assert plan.is_noop, plan.changes.lines()


@pytest.mark.django_db
def test_excel_export_of_formula_like_names_imports_back_unchanged(tmp_path):
    formula_like_org()

    call_command("export_org", str(tmp_path), "--excel", stdout=StringIO())

    files = {
        name: (tmp_path / f"{name}.csv").read_bytes()
        for name in ("departments", "employees", "relations")
    }
    assert b"FIN,'=SUM(A1),HQ," in files["departments"]
    assert "'-张三".encode() in files["employees"]
    plan = plan_import(**{name: ImportSource(f"{name}.csv", data) for name, data in files.items()})
    assert plan.errors == []
    assert plan.is_noop, plan.changes.lines()
