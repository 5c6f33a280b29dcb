"""Migrate structured remembers the answer for a small Parameters body, never an error."""
import json

import pytest

from mockprovider.errors import SpineError
from mockprovider.interactions import migrate_structured as ms
from tests import helpers as h


def body(**kw) -> bytes:
    return json.dumps(h.migrate_body(**kw)).encode()


def test_same_body_same_answer_from_the_cache():
    ms._parse_small.cache_clear()
    good = body(nhs="9690937286", sensitive=True)
    assert ms._parse_small(good) == ms.parse_parameters(good) == ("9690937286", True)
    assert ms._parse_small(good) == ("9690937286", True)
    assert ms._parse_small.cache_info().hits == 1


def test_an_error_is_raised_every_time_and_never_cached():
    ms._parse_small.cache_clear()
    bad = body(nhs="9690937287")        # fails Mod-11
    for _ in range(2):
        with pytest.raises(SpineError) as info:
            ms._parse_small(bad)
        assert info.value.code == "INVALID_NHS_NUMBER"
    assert ms._parse_small.cache_info().currsize == 0
