"""ICR's XLSX writer (icr/xlsx.py): what openpyxl, as a spreadsheet would, reads back."""

import io

from openpyxl import load_workbook

from icr.xlsx import Sheet, column_letter, sheet_title, workbook


def _read(content: bytes):
    return load_workbook(io.BytesIO(content))


def test_numbers_stay_numbers_and_empty_cells_stay_empty():
    data = [[3, 4.5, "x"], [None, None, ""], [0, None, "y"]]
    book = _read(workbook([Sheet("A", ["n", "mean", "text"], data)]))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows == [("n", "mean", "text"), (3, 4.5, "x"), (None, None, None), (0, None, "y")]
    assert isinstance(rows[1][0], int) and isinstance(rows[1][1], float)


def test_text_a_spreadsheet_would_run_is_neutralised_and_markup_is_text():
    rows = [['=HYPERLINK("http://x")'], ["@SUM(A1)"], ["<b>&</b>"], ["a\x00b\x1fc"]]
    book = _read(workbook([Sheet("A", ["t"], rows)]))
    values = [r[0] for r in book.active.iter_rows(min_row=2, values_only=True)]
    assert values == ['\'=HYPERLINK("http://x")', "'@SUM(A1)", "<b>&</b>", "abc"]


def test_each_sheet_has_a_frozen_bold_header_with_filters():
    book = _read(workbook([Sheet("第 1 层", ["a", "b"], [[1, 2]] * 3), Sheet("B", ["c"], [])]))
    first, second = book.worksheets
    assert (first.freeze_panes, first.auto_filter.ref) == ("A2", "A1:B4")
    assert (second.freeze_panes, second.auto_filter.ref) == ("A2", "A1:A1")
    assert first["A1"].font.b and not first["A2"].font.b


def test_sheet_names_are_made_valid_and_unique():
    taken: set[str] = set()
    names = [sheet_title(t, taken) for t in ["a/b:c", "a/b:c", "x" * 40, ""]]
    assert names == ["a b c", "a b c (2)", "x" * 31, "Sheet"]
    book = _read(workbook([Sheet("评论", ["c"]), Sheet("评论", ["c"])]))
    assert book.sheetnames == ["评论", "评论 (2)"]


def test_column_letters():
    assert [column_letter(i) for i in (0, 25, 26, 27, 701, 702)] == [
        "A",
        "Z",
        "AA",
        "AB",
        "ZZ",
        "AAA",
    ]
