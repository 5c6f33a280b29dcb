"""The practices registry (mockprovider.registry.practices): the built-in file, every mistake as one line
naming the file and the key, how MOCKPROVIDER_ODS_CODE / _PROVIDER_ASID combine with it, the SDS
searches it answers, and the personas checked against it."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from mockprovider import spec
from mockprovider.config import Settings
from mockprovider.registry import practices as P
from mockprovider.http import routes

BUILT_IN = Path(P.BUILT_IN)


def registry(**env):
    return P.load(Settings.from_env({f"MOCKPROVIDER_{k.upper()}": v for k, v in env.items()}))


def test_the_built_in_registry_seeds_what_the_issue_asks_for():
    r = registry()
    assert [p.ods for p in r.practices][:2] == ["B82617", "A20047"]
    assert (r.default.ods, r.default.asid) == ("B82617", "918999198738")     # today's default: nothing breaks
    assert r.get("A20047").asid == "200000000985"
    emis = [p for p in r.practices if p.supplier == "emis"]
    assert emis and set(emis[0].roots.values()) == {"gpconnect/fhir"}       # only the single root
    assert [p for p in r.practices if p.supplier == "tpp"]
    assert [p for p in r.practices if not p.on_sds]                          # PDS knows it, SDS does not
    consumers = {(c.ods, c.asid) for c in r.consumers}
    assert ("GPCA0001", "200000000359") in consumers
    quirks = set().union(*(p.quirks for p in r.practices))
    assert {"unreachable", "trailing-slash", "no-party-key", "two-endpoints"} <= quirks
    routes.check_registry(r)              # every published root is one the provider serves


def test_the_default_practice_serves_every_root_spelling_and_interaction_as_before():
    b = registry().default
    assert b.aliases and all(b.serves_root(root) for root, _ in routes.ROOTS)
    assert all(b.offers(i.name) for i in routes.INTERACTIONS)


def test_the_sds_services_are_the_routes_tables_interactions():
    """Every interaction the provider serves (but the foundations metadata) is one SDS can publish,
    with the same interaction id; a new interaction of the routes table needs its row here."""
    for interaction in routes.INTERACTIONS:
        if interaction.name == "metadata":
            continue
        assert interaction.name in P.SERVICES, f"add {interaction.name} to practices.SERVICES"
        assert P.SERVICES[interaction.name][0] in interaction.ids


@pytest.mark.parametrize("env,ods,asid", [
    ({}, "B82617", "918999198738"),
    ({"ods_code": "Y12345"}, "Y12345", "918999198738"),
    ({"provider_asid": "123456789012"}, "B82617", "123456789012"),
    ({"ods_code": "Y12345", "provider_asid": "123456789012"}, "Y12345", "123456789012"),
])
def test_the_settings_rename_the_default_practice(env, ods, asid):
    r = registry(**env)
    assert (r.default.ods, r.default.asid) == (ods, asid)
    assert r.default.party_key.startswith(ods + "-")
    assert r.get("A20047") is not None                     # the others untouched


def test_a_setting_naming_another_practice_is_one_line():
    with pytest.raises(P.RegistryError) as caught:
        registry(ods_code="A20047")
    assert "practice[1].ods" in str(caught.value) and "\n" not in str(caught.value)


def _mistake(tmp_path, text: str) -> str:
    path = tmp_path / "practices.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(P.RegistryError) as caught:
        P.parse_file(str(path))
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    return message


GOOD = '''[[practice]]
ods = "B82617"
name = "x"
asid = "1"
party_key = "B82617-1"
mhs_id = "M1"
supplier = "generic"
manufacturer = "YMOCK1"
'''


@pytest.mark.parametrize("text,key", [
    ("not toml [", "is not valid TOML"),
    ("", "practice: at least one"),
    (GOOD + "colour = 'blue'\n", "practice[0].colour"),
    (GOOD.replace('asid = "1"', 'asid = "one"'), "practice[0].asid"),
    (GOOD.replace('ods = "B82617"', 'ods = "b82617"'), "practice[0].ods"),
    (GOOD.replace('party_key = "B82617-1"', 'party_key = "A20047-1"'), "practice[0].party_key"),
    (GOOD.replace('supplier = "generic"', 'supplier = "vision"'), "practice[0].supplier"),
    (GOOD.replace('name = "x"\n', ''), "practice[0].name"),
    (GOOD + 'interactions = ["get_structured"]\n', "practice[0].interactions[0]"),
    (GOOD + 'quirks = ["flaky"]\n', "practice[0].quirks[0]"),
    (GOOD + 'quirks = ["not-on-sds"]\n', "practice[0].quirks"),
    (GOOD + '[practice.roots]\nmigrate_structured = "gpconnect fhir"\n', "practice[0].roots.migrate_structured"),
    (GOOD + GOOD, "practice[1].ods"),
    (GOOD + '[[consumer]]\nods = "GPCA0001"\nname = "s"\nasid = "1"\nmanufacturer = "X26"\n'
            'interactions = ["migrate_structured"]\n', "consumer[0].asid"),
    (GOOD + '[[consumer]]\nods = "GPCA0001"\nname = "s"\nasid = "2"\nmanufacturer = "X26"\n', "consumer[0].interactions"),
    (GOOD + '[[clinic]]\n', "clinic"),
])
def test_every_mistake_is_one_line_naming_the_file_and_key(tmp_path, text, key):
    assert key in _mistake(tmp_path, text)


def test_a_root_the_provider_does_not_serve_names_its_key(tmp_path):
    path = tmp_path / "practices.toml"
    path.write_text(GOOD + '[practice.roots]\nmigrate_structured = "gpconnect/documents/fhir"\n')
    with pytest.raises(P.RegistryError) as caught:
        routes.check_registry(P.parse_file(str(path)))
    assert "practice[0].roots.migrate_structured" in str(caught.value)


def test_sds_device_searches_narrow_by_party_key_and_manufacturer():
    r = registry()
    migrate = spec.MIGRATE_STRUCTURED
    [b] = r.devices("B82617", migrate)
    assert (b.asid, b.party_key, b.manufacturer) == ("918999198738", "B82617-806557", "YMOCK1")
    assert r.devices("B82617", migrate, party_key="B82617-806557") == [b]
    assert r.devices("B82617", migrate, party_key="B82617-000000") == []
    assert r.devices("B82617", migrate, manufacturer="YMOCK1") == [b]
    assert r.devices("B82617", migrate, manufacturer="X26") == []
    assert r.devices("GPCA0001", migrate, manufacturer="X26")[0].asid == "200000000359"
    assert r.devices("Y90003", migrate) == []                                  # not on SDS
    # A20047 is practice and consumer with one ASID: one AS record
    assert [d.asid for d in r.devices("A20047", migrate)] == ["200000000985"]


def test_sds_endpoint_quirks_come_from_the_registry():
    r = registry()
    migrate = spec.MIGRATE_STRUCTURED
    assert len(r.endpoints("Y90007", migrate)) == 2                            # two-endpoints
    assert {e.party_key for e in r.endpoints("Y90007", migrate)} == {"Y90007-800707", "Y90007-800708"}
    assert r.endpoints("Y90006", migrate)[0].party_key is None                 # no-party-key
    assert r.endpoints("Y90003", migrate) == []
    assert r.endpoints(None, migrate, "B82617-806557")[0].practice.ods == "B82617"
    extra = {"B82617": frozenset({"no-mhs-id"})}
    assert r.endpoints("B82617", migrate, extra_quirks=extra)[0].mhs_id is None


def test_the_spine_secure_proxys_sender_check():
    r = registry()
    assert r.consumer_allowed("200000000359", "migrate_structured")           # the suite's consumer
    assert r.consumer_allowed("200000000985", "migrate_document")             # A20047 as GP2GP requester
    assert r.consumer_allowed("918999198738", "migrate_structured")           # a GP system consumes too
    assert not r.consumer_allowed("999999999999", "migrate_structured")
    assert not r.consumer_allowed(None, "migrate_structured")


def test_personas_are_checked_against_the_registry():
    r = registry()
    errors = P.persona_mistakes(r, {"practice": "Z99999"}, "x.json")
    assert [(e.path, "Z99999" in e.reason) for e in errors] == [("$.practice", True)]
    assert P.persona_mistakes(r, {"practice": "Y90001"}, "x.json") == []
    errors = P.persona_mistakes(r, {"pds": {"superseded_by": "9690937278"}}, "x.json", known_numbers={"1"})
    assert errors[0].path == "$.pds.superseded_by"


def test_the_shipped_file_is_valid_toml_with_every_documented_key_used():
    data = tomllib.loads(BUILT_IN.read_text(encoding="utf-8"))
    used = set().union(*(set(p) for p in data["practice"]))
    assert used <= P.PRACTICE_KEYS
