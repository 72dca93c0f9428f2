"""Group names may not be words the match expression reads as operators or fields."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from alerts.query import FIELDS, KEYWORDS
from alerts.watchlists import Watchlist


@pytest.mark.parametrize("word", sorted(KEYWORDS | set(FIELDS)))
def test_a_group_named_like_a_query_word_is_refused(word: str) -> None:
    spec = {"name": "w", "groups": {word.upper(): ["x"], "tw": ["Taiwan"]}, "match": "tw"}
    with pytest.raises(ValidationError, match="is a keyword of the match language"):
        Watchlist.model_validate(spec)


def test_other_group_names_are_fine() -> None:
    spec = {"name": "w", "groups": {"nearby": ["x"], "tw": ["Taiwan"]}, "match": "tw"}
    assert Watchlist.model_validate(spec).groups.keys() == {"nearby", "tw"}
