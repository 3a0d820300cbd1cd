"""Files as HR has them: Excel's encodings and .xlsx, within limits that a bomb cannot pass."""

import io
import struct
import zipfile

import openpyxl
import pytest
from django.utils import translation

from relations.importing import (
    DEPARTMENT_COLUMNS,
    EMPLOYEE_COLUMNS,
    EXPORT_RELATION_COLUMNS,
    ImportSource,
    apply_import,
    plan_import,
)
from relations.models import Department, Edge, EdgeType, Employee
from tests.relations.import_helpers import csv_bytes, import_ok, rows_of, sources


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def xlsx_bytes(header, rows) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def locations(plan):
    return [(e.file, e.line, e.column) for e in plan.errors]


@pytest.mark.django_db
@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-8"])
def test_csv_in_excels_encodings_is_read_without_asking(encoding):
    import_ok(encoding=encoding)

    assert Department.objects.get(code="SALES").name == "销售部"
    assert Employee.objects.get(employee_id="E003").name == "张三"
    assert Edge.objects.active().filter(type=EdgeType.FUNCTION, service="合同审核").exists()


@pytest.mark.django_db
def test_gb18030_characters_beyond_gbk_are_read():
    employees = rows_of("employees.csv")
    employees[2][1] = "张𠮷"  # U+20BB7 has no GBK code; GB18030 encodes it in four bytes

    import_ok(employees=employees, encoding="gb18030")

    assert Employee.objects.get(employee_id="E003").name == "张𠮷"


@pytest.mark.django_db
def test_xlsx_files_with_the_same_columns_are_accepted():
    def numeric(value):
        return 1001 if value == "E001" else value  # a numeric id, as Excel stores it

    departments = [[c, n, p, numeric(h)] for c, n, p, h in rows_of("departments.csv")]
    employees = [[numeric(r[0]), *r[1:4], numeric(r[4]), r[5]] for r in rows_of("employees.csv")]

    plan = plan_import(
        departments=ImportSource("部门.xlsx", xlsx_bytes(DEPARTMENT_COLUMNS, departments)),
        employees=ImportSource("员工.XLSX", xlsx_bytes(EMPLOYEE_COLUMNS, employees)),
    )
    assert plan.errors == []
    apply_import(plan)

    assert Employee.objects.get(employee_id="E002").manager.employee_id == "1001"
    assert Department.objects.get(code="HQ").head.name == "王总"


@pytest.mark.django_db
def test_xlsx_header_errors_are_located_like_csv_ones():
    plan = plan_import(
        departments=sources()["departments"],
        employees=ImportSource(
            "employees.xlsx", xlsx_bytes(["employee_id", "name"], [["E1", "甲"]])
        ),
    )

    assert ("employees.xlsx", 1, "email") in locations(plan)


@pytest.mark.django_db
def test_export_header_and_chinese_type_names_are_accepted_in_relations():
    rows = [
        ["", "", "", "职能", "COM", "", "SALES", "", "合同审核"],
        ["", "", "", "流程", "SALES", "", "FIN", "", "开票"],
        ["", "", "", "工序", "", "E003", "", "E004", "资料"],
        ["1", "2", "task", "rank", "", "E003", "", "E002", "任务"],
    ]

    plan = plan_import(
        **{
            **sources(),
            "relations": ImportSource("relations.csv", csv_bytes(EXPORT_RELATION_COLUMNS, rows)),
        }
    )

    assert plan.errors == []
    assert plan.changes.pairs_created == {"rank": 5, "function": 1, "process": 1, "workflow": 1}


def zip_with_declared_size(declared: int) -> bytes:
    """A tiny valid zip whose central directory claims `declared` uncompressed bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * 1000)
    data = bytearray(out.getvalue())
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, declared)  # uncompressed size field
    return bytes(data)


@pytest.mark.django_db
def test_zip_bomb_xlsx_is_refused_before_it_is_unpacked(monkeypatch):
    def must_not_open(*args, **kwargs):
        raise AssertionError("openpyxl must not open a refused file")

    monkeypatch.setattr(openpyxl, "load_workbook", must_not_open)

    plan = plan_import(
        departments=ImportSource("departments.xlsx", zip_with_declared_size(4_000_000_000)),
        employees=sources()["employees"],
    )

    assert locations(plan)[0] == ("departments.xlsx", 1, "")
    assert "unpacks to 4000000000 bytes" in plan.errors[0].message


@pytest.mark.django_db
def test_highly_compressed_xlsx_over_the_unpacked_limit_is_refused(settings):
    settings.ICR_XLSX_MAX_UNCOMPRESSED_BYTES = 1_000_000
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * 2_000_000)
    assert len(out.getvalue()) < 10_000  # tiny on disk

    plan = plan_import(
        departments=ImportSource("departments.xlsx", out.getvalue()),
        employees=sources()["employees"],
    )

    assert locations(plan) == [("departments.xlsx", 1, "")]


_MAIN = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_PACKAGE = 'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"'
_OFFICE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def workbook_with_shared_strings(rows, *, padding: int = 0, compression=zipfile.ZIP_DEFLATED):
    """A workbook as Excel saves it (every text in xl/sharedStrings.xml), made by hand.

    `padding` adds that many bytes of unused shared strings: a tiny, highly compressible part
    that unpacks to a lot.
    """
    strings = [value for row in rows for value in row]
    cells = []
    index = 0
    for number, row in enumerate(rows, start=1):
        row_cells = []
        for column, _value in zip("ABCDEF", row, strict=False):
            row_cells.append(f'<c r="{column}{number}" t="s"><v>{index}</v></c>')
            index += 1
        cells.append(f'<row r="{number}">{"".join(row_cells)}</row>')
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_SHEET_TYPE}.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" '
            f'ContentType="{_SHEET_TYPE}.worksheet+xml"/>'
            '<Override PartName="/xl/sharedStrings.xml" '
            f'ContentType="{_SHEET_TYPE}.sharedStrings+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<Relationships {_PACKAGE}><Relationship Id="rId1" '
            f'Type="{_OFFICE}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook {_MAIN} xmlns:r="{_OFFICE}"><sheets>'
            '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships {_PACKAGE}><Relationship Id="rId1" Type="{_OFFICE}/worksheet" '
            'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" '
            f'Type="{_OFFICE}/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
        ),
        "xl/worksheets/sheet1.xml": (
            f"<worksheet {_MAIN}><sheetData>{''.join(cells)}</sheetData></worksheet>"
        ),
    }
    unused = b"<si><t>x</t></si>"
    shared = (
        f"<sst {_MAIN}>".encode()
        + "".join(f"<si><t>{value}</t></si>" for value in strings).encode()
        + unused * (padding // len(unused))
        + b"</sst>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, text in parts.items():
            archive.writestr(name, text, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("xl/sharedStrings.xml", shared)
    return out.getvalue()


def declaring(data: bytes, name: str, declared: int) -> bytes:
    """The zip `data` with the central directory claiming `declared` bytes for part `name`."""
    data = bytearray(data)
    at = data.find(b"PK\x01\x02")
    while at != -1:
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_length] == name.encode():
            struct.pack_into("<I", data, at + 24, declared)  # uncompressed size field
        at = data.find(b"PK\x01\x02", at + 4)
    return bytes(data)


@pytest.fixture
def openpyxl_opens(monkeypatch):
    """The workbooks handed to openpyxl (a refused file must never get there)."""
    opened = []
    load = openpyxl.load_workbook

    def recording(*args, **kwargs):
        opened.append(args)
        return load(*args, **kwargs)

    monkeypatch.setattr(openpyxl, "load_workbook", recording)
    return opened


DEPARTMENT_ROWS = [list(DEPARTMENT_COLUMNS), *rows_of("departments.csv")]


@pytest.mark.django_db
def test_workbook_saved_with_shared_strings_imports(settings):
    settings.ICR_XLSX_MAX_PART_BYTES = 1_000_000
    data = workbook_with_shared_strings(DEPARTMENT_ROWS, padding=500_000)

    plan = plan_import(
        departments=ImportSource("departments.xlsx", data), employees=sources()["employees"]
    )

    assert plan.errors == []
    assert plan.changes.departments_created == 5


@pytest.mark.django_db
def test_shared_strings_that_unpack_past_the_part_limit_are_refused_before_openpyxl(
    settings, openpyxl_opens
):
    settings.ICR_XLSX_MAX_PART_BYTES = 1_000_000
    data = workbook_with_shared_strings(DEPARTMENT_ROWS, padding=5_000_000)
    assert len(data) < 30_000  # tiny on disk, and well under the total limit unpacked

    plan = plan_import(
        departments=ImportSource("departments.xlsx", data), employees=sources()["employees"]
    )

    assert locations(plan) == [("departments.xlsx", 1, "")]
    assert plan.errors[0].message == (
        "The part xl/sharedStrings.xml of the .xlsx file unpacks to more than 1000000 bytes; "
        "at most 1000000 bytes are accepted for a part other than a worksheet."
    )
    assert openpyxl_opens == []


@pytest.mark.django_db
def test_part_that_unpacks_to_more_than_declared_is_refused_before_openpyxl(
    settings, openpyxl_opens
):
    settings.ICR_XLSX_MAX_UNCOMPRESSED_BYTES = 1_000_000
    settings.ICR_XLSX_MAX_PART_BYTES = 1_000_000
    bomb = workbook_with_shared_strings(DEPARTMENT_ROWS, padding=5_000_000)
    data = declaring(bomb, "xl/sharedStrings.xml", 1000)
    declared = {i.filename: i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist()}
    assert declared["xl/sharedStrings.xml"] == 1000  # what the archive claims: far under both

    plan = plan_import(
        departments=ImportSource("departments.xlsx", data), employees=sources()["employees"]
    )

    assert locations(plan) == [("departments.xlsx", 1, "")]
    assert openpyxl_opens == []


@pytest.mark.django_db
def test_worksheets_may_unpack_past_the_part_limit(settings):
    settings.ICR_XLSX_MAX_PART_BYTES = 100_000  # openpyxl streams worksheets: only the total
    rows = [*DEPARTMENT_ROWS, *([f"D{i}", f"部门{i}", "HQ", ""] for i in range(1000))]
    data = workbook_with_shared_strings(rows)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.getinfo("xl/worksheets/sheet1.xml").file_size > 100_000
        assert archive.getinfo("xl/sharedStrings.xml").file_size < 100_000

    plan = plan_import(
        departments=ImportSource("departments.xlsx", data), employees=sources()["employees"]
    )

    assert plan.errors == []
    assert plan.changes.departments_created == 1005


@pytest.mark.django_db
def test_xlsx_with_a_part_in_another_compression_is_refused(openpyxl_opens):
    data = workbook_with_shared_strings(DEPARTMENT_ROWS, compression=zipfile.ZIP_BZIP2)

    plan = plan_import(
        departments=ImportSource("departments.xlsx", data), employees=sources()["employees"]
    )

    assert locations(plan) == [("departments.xlsx", 1, "")]
    assert plan.errors[0].message == "This is not a readable Excel .xlsx file."
    assert openpyxl_opens == []


@pytest.mark.django_db
def test_xlsx_with_too_many_entries_is_refused(settings):
    settings.ICR_XLSX_MAX_ENTRIES = 3
    data = xlsx_bytes(DEPARTMENT_COLUMNS, rows_of("departments.csv"))

    plan = plan_import(
        departments=ImportSource("departments.xlsx", data), employees=sources()["employees"]
    )

    assert locations(plan) == [("departments.xlsx", 1, "")]
    assert "at most 3" in plan.errors[0].message


@pytest.mark.django_db
def test_file_that_is_not_a_workbook_is_an_error():
    plan = plan_import(
        departments=ImportSource("departments.xlsx", b"code,name\n"),
        employees=sources()["employees"],
    )

    assert locations(plan) == [("departments.xlsx", 1, "")]


@pytest.mark.django_db
def test_oversized_file_is_refused_with_the_limit_in_the_message(settings):
    settings.ICR_IMPORT_MAX_BYTES = 100
    files = sources()

    plan = plan_import(**files)

    assert len(files["employees"].data) > 100
    assert ("employees.csv", 1, "") in locations(plan)
    assert "at most 100 bytes" in plan.errors[0].message


@pytest.mark.django_db
def test_file_with_too_many_rows_is_refused_at_the_first_row_over(settings):
    settings.ICR_IMPORT_MAX_ROWS = 5

    plan = plan_import(**sources())

    assert locations(plan) == [("employees.csv", 7, "")]
    assert "more than 5 data rows" in plan.errors[0].message
    assert Employee.objects.count() == 0
