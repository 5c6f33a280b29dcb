"""fhir.render.Spliced: build once, serve many; pieces give exactly the bytes render gives."""
import json

import pytest

from mockprovider.fhir.render import TRACE_PLACEHOLDER, Spliced, to_json_bytes

TRACE = "5b0d9f4c-1c0e-4a43-9a57-0d6c1b5f8e21"


def bundle(entries: int) -> dict:
    return {"resourceType": "Bundle", "id": TRACE_PLACEHOLDER, "type": "collection",
            "entry": [{"resource": {"resourceType": "Observation", "id": f"o{i}", "note": "x" * 90}}
                      for i in range(entries)]}


@pytest.mark.parametrize("entries", [0, 10, 100, 3000, 30000])
def test_pieces_are_the_rendered_bytes(entries):
    spliced = Spliced(to_json_bytes(bundle(entries)))
    whole = spliced.render(TRACE)
    pieces, length = spliced.pieces(TRACE)
    assert b"".join(pieces) == whole and length == len(whole)
    assert json.loads(whole)["id"] == TRACE
    assert spliced.head + json.dumps(TRACE).encode() + spliced.tail == whole
    assert len(spliced) == len(whole) - len(json.dumps(TRACE))


def test_small_body_is_one_piece_large_body_is_not_copied_per_request():
    assert len(Spliced(to_json_bytes(bundle(10))).pieces(TRACE)[0]) == 1
    large = Spliced(to_json_bytes(bundle(30000)))
    first, second = large.pieces(TRACE)[0], large.pieces("another")[0]
    assert len(first) == 2 and len(first[0]) <= Spliced.EDGE * 2 + 100
    assert first[-1] is second[-1]          # the bulk is the same object, never rebuilt


def test_placeholder_must_occur_exactly_once():
    with pytest.raises(ValueError):
        Spliced(b'{"id":"other"}')
    twice = json.dumps({"a": TRACE_PLACEHOLDER, "b": TRACE_PLACEHOLDER}).encode()
    with pytest.raises(ValueError):
        Spliced(twice)
