from __future__ import annotations

import pytest

from langchain_tokenopt._checks import check_min_ints
from langchain_tokenopt.errors import TokenOptConfigError


def test_values_at_their_minimum_pass() -> None:
    check_min_ints(("k", 1, 1), ("carry_turns", 0, 0), ("segment_tokens", 320, 16))


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0, "0"), (True, "True"), (1.5, "1.5"), ("3", "'3'"), (None, "None")],
)
def test_the_first_bad_value_is_named_with_its_minimum(value: object, shown: str) -> None:
    with pytest.raises(TokenOptConfigError) as err:
        check_min_ints(("k", 5, 1), ("max_tools", value, 1), ("fan_in", 0, 2))
    assert str(err.value) == f"max_tools must be an int >= 1, got {shown}"


def test_owner_prefixes_the_name() -> None:
    with pytest.raises(TokenOptConfigError, match=r"^HierarchicalSummary\.fan_in must be"):
        check_min_ints(("fan_in", 1, 2), owner="HierarchicalSummary")
