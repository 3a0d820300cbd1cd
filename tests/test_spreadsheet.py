"""Formula-like text in the files ICR writes: neutralised for the spreadsheet, and read back."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icr.spreadsheet import neutralise, restore


@pytest.mark.parametrize("value", ["=SUM(A1)", "-张三", "@x", "+1", "\tx", "\rx", "'=1", "''-1"])
def test_formula_like_text_gets_one_apostrophe_more(value):
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["张三", "'总经理", "a=1", "", "''"])
def test_other_text_stays_as_it_is_both_ways(value):
    assert neutralise(value) == value
    assert restore(value) == value


def test_numbers_stay_numbers():
    assert neutralise(-2) == -2 and neutralise(1.5) == 1.5


@given(st.text(alphabet=st.sampled_from("'=+-@\t\rx张 ")))
def test_reading_back_gives_the_text_written(text):
    assert restore(neutralise(text)) == text
