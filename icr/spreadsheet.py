"""Text that a spreadsheet would run as a formula: neutralised in the files ICR writes for one,
given back unchanged when ICR reads such a file again.

Excel (and LibreOffice, WPS) runs a cell that starts with =, +, -, @, a tab or a carriage return
as a formula when it opens a CSV file; a leading apostrophe makes it text. The apostrophe is
also put before text that already starts with apostrophes followed by such a character, so
that `restore` can take exactly one off: `restore(neutralise(text)) == text` for every text.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """Text that would start a formula is prefixed with ' (numbers stay numbers)."""
    if isinstance(value, str) and value.lstrip("'").startswith(FORMULA_STARTS):
        return "'" + value
    return value


def restore(text: str) -> str:
    """The text that `neutralise` turned into `text`: one leading ' off where it put one."""
    if text.startswith("'") and text[1:].lstrip("'").startswith(FORMULA_STARTS):
        return text[1:]
    return text
