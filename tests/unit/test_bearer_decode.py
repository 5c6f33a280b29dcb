"""bearer._decode (the fast path around pyjwt) accepts and refuses exactly what the gate did when it
called pyjwt.decode on every token: its own base64url/JSON checks, then pyjwt."""
from __future__ import annotations

import base64
import json

import jwt as pyjwt
import pytest
from hypothesis import given, strategies as st

from mockprovider.errors import SpineError
from mockprovider.http import bearer

OPTIONS = {"verify_signature": False, "verify_exp": False, "verify_iat": False, "verify_nbf": False,
           "verify_aud": False, "verify_iss": False}


def seg(obj) -> str:
    raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def outcome_before(token):
    """What the gate did before the fast path: its own checks, then always pyjwt."""
    parts = token.split(".")
    try:
        bearer._b64json(parts[0], "header")
        bearer._b64json(parts[1], "payload")
        return ("ok", pyjwt.decode(token, options=OPTIONS))
    except (SpineError, pyjwt.PyJWTError):
        return ("refused", None)


def outcome_bearer(token):
    parts = token.split(".")
    assert len(parts) == 3      # the gate refuses any other shape before decoding
    try:
        header = bearer._b64json(parts[0], "header")
        payload = bearer._b64json(parts[1], "payload")
        return ("ok", bearer._decode(token, parts, header, payload))
    except SpineError:
        return ("refused", None)


HEADER = seg({"alg": "none", "typ": "JWT"})
PAYLOAD = seg({"iss": "x", "n": 1, "name": "Zoë"})


@pytest.mark.parametrize("token", [
    f"{HEADER}.{PAYLOAD}.",                               # the usual token
    f"{HEADER}.{PAYLOAD[:-1]}{'R' if PAYLOAD[-1] != 'R' else 'S'}.",   # non-canonical last character
    f"{HEADER}.{PAYLOAD}A.",                              # impossible length (len % 4 == 1)
    f"{HEADER}.{PAYLOAD[:4]}!{PAYLOAD[4:]}.",             # junk character
    f"{seg({'alg': 'none', 'kid': 5})}.{PAYLOAD}.",       # header pyjwt checks itself (kid not a string)
    f"{seg({'alg': 'none', 'crit': ['b64'], 'b64': False})}.{PAYLOAD}.",
    f"{seg({'alg': 'none', 'typ': 'JWT', 'x5u': 'u'})}.{PAYLOAD}.",
])
def test_same_outcome_as_before(token):
    assert outcome_bearer(token) == outcome_before(token)


def test_usual_token_is_accepted():
    assert outcome_bearer(f"{HEADER}.{PAYLOAD}.") == ("ok", {"iss": "x", "n": 1, "name": "Zoë"})


@given(st.dictionaries(st.text(max_size=8), st.one_of(st.integers(), st.text(max_size=20), st.none()), max_size=6),
       st.integers(min_value=0, max_value=200), st.sampled_from("AQgw-_!=+/."))
def test_same_outcome_as_before_for_mutated_payloads(payload, position, char):
    token_payload = seg(payload)
    for candidate in (token_payload, token_payload[:position] + char + token_payload[position + 1:]):
        if "." not in candidate:
            token = f"{HEADER}.{candidate}."
            assert outcome_bearer(token) == outcome_before(token)


def test_check_uses_the_fast_path_only_for_canonical_segments():
    # The gate's own decode of each segment says whether pyjwt would accept it as it is.
    assert bearer._segment(PAYLOAD, "payload")[1] is True
    noncanonical = PAYLOAD[:-1] + ("R" if PAYLOAD[-1] != "R" else "S")
    value, canonical = bearer._segment(noncanonical, "payload")
    assert canonical is bearer._canonical_b64url(noncanonical)


def _reencodes_to_itself(part: str) -> bool:
    """The definition of a canonical segment: it decodes, and its bytes encode back to it."""
    if len(part) % 4 == 1 or any(c not in B64URL for c in part):
        return False
    raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == part


B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@given(st.text(alphabet=B64URL + "+/=!", max_size=11))
def test_canonical_check_is_the_re_encoding_rule(part):
    # bearer checks the last character's unused bits instead of re-encoding the segment
    assert bearer._canonical_b64url(part) is _reencodes_to_itself(part)


def test_every_last_character_is_judged_like_re_encoding():
    for stem in ("", "eyJh", "eyJhbGci"):
        for tail in ("A", "AB", "ABC"):
            for last in B64URL:
                part = stem + tail[:-1] + last
                assert bearer._canonical_b64url(part) is _reencodes_to_itself(part), part
