"""PUT /_control/personas/{nhs} with mutated personas: never a 500, a 400 names every mistake
with a JSON path that exists in the body as sent (its first one is exactly the loader's first
error), and a rejected body changes nothing (issue #15)."""
import copy
import json
from pathlib import Path

from hypothesis import given, strategies as st

from mockprovider.config import BUILT_IN_PERSONAS
from mockprovider.personas.store import PersonaError, validate
from tests.reliability import fuzzing as fz

SOURCES = [json.loads(p.read_text()) for p in sorted(Path(BUILT_IN_PERSONAS).glob("*.json"))
           if p.stat().st_size < 64 * 1024 and p.name != "schema.json"]


def places(value, path="$"):
    """Every (JSON path, container, key) inside value."""
    out = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        where = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}"
        out.append((where, value, key))
        out.extend(places(inner, where))
    return out


@st.composite
def mutated_personas(draw):
    data = copy.deepcopy(draw(st.sampled_from(SOURCES)))
    for _ in range(draw(st.integers(1, 4))):
        spots = places(data)
        if not spots:
            break
        _, container, key = draw(st.sampled_from(spots))
        if draw(st.booleans()) and isinstance(container, dict):
            del container[key]
        else:
            container[key] = draw(fz.json_values)
    return data


def exists(body, path: str) -> bool:
    """The path is in the body as sent, or names a field of an object that is (a missing one)."""
    known = {"$"} | {where for where, _, _ in places(body)}
    return path in known or path.rsplit(".", 1)[0] in known


@fz.fuzz_settings(150)
@given(body=mutated_personas())
def test_a_mutated_persona_is_stored_whole_or_refused_with_every_mistake(client, body):
    before = client.get("/_control/personas").get_json()
    number = body.get("nhs_number") if isinstance(body.get("nhs_number"), str) else "9000000009"
    response = client.put(f"/_control/personas/{number}", json=body)
    assert response.status_code in (200, 201, 400), response.data[:300]
    try:
        first = None
        validate(dict(body, nhs_number=body.get("nhs_number", number)), "x", BUILT_IN_PERSONAS)
    except PersonaError as exc:
        first = exc
    if response.status_code == 400:
        errors = response.get_json()["errors"]
        assert errors and all(e["reason"] for e in errors)
        for error in errors:
            assert error["path"] == "nhs_number (URL)" or exists(body, error["path"]), error
        if first is not None and errors[0]["path"] != "nhs_number (URL)":
            # the loader's own (first) mistake is among them, unless the list names its place already
            assert any(e["path"] == first.path or first.path.startswith(e["path"] + ".")
                       or first.path.startswith(e["path"] + "[") or e["path"].startswith(first.path + ".")
                       or e["path"].startswith(first.path + "[") for e in errors), (first, errors)
        assert client.get("/_control/personas").get_json() == before
    else:
        assert first is None
    client.post("/_control/reset")


@fz.fuzz_settings(150)
@given(body=mutated_personas())
def test_the_loader_and_the_persona_contract_agree(body):
    """What the loader (start-up's fast pass) accepts, the contract finds nothing wrong with,
    schema included; what it refuses, the contract names at least one mistake of (issue #24)."""
    from mockprovider.personas.contract import mistakes
    from mockprovider.personas.schema import schema_errors
    try:
        validate(body, "x", BUILT_IN_PERSONAS)
        accepted = True
    except PersonaError:
        accepted = False
    if accepted:
        assert schema_errors(body, "x") == []
    else:
        assert mistakes(body, "x", BUILT_IN_PERSONAS)
