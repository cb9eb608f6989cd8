"""The columnar scan's planning helpers: kinds of a whole column of live values at once are
the kinds of its values one by one."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tracklet.storage.history.columns import value_kind, value_kinds

_VALUES = (st.none() | st.booleans() | st.floats() | st.text(max_size=3)
           | st.integers() | st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63),
                                               -(2**63) - 1])
           | st.lists(st.integers(), max_size=2)
           | st.dictionaries(st.text(max_size=2), st.integers(), max_size=2))


@settings(max_examples=300, deadline=None)
@given(values=st.lists(_VALUES, max_size=20))
def test_value_kinds_is_the_kinds_of_each_value(values: list[Any]) -> None:
    assert value_kinds(values) == {value_kind(v) for v in values if v is not None}
