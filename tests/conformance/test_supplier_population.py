"""Generated personas pass the same conformance suite as the hand-written cast (issues #14, #24).

``personas generate`` in every style (plain, emis, tpp) and volume (small, typical, heavy), with the
tags that shape records: every resource of their migrate Bundles (both sensitivity modes) against the
profile it names (the same allowances as the built-in cast: the profile's own contradiction), every
row of the page-rule table, the unit facts of the terminology check, and the GP2GP adaptor's needs.
"""
from collections import defaultdict

import pytest

from mockprovider.app import create_app
from mockprovider.personas import generate as gen
from tests.conformance import cast, pending
from tests.conformance import test_gp2gp_needs as gp2gp
from tests.conformance import test_page_rules as pages
from tests.conformance.test_profiles import PROFILE_CONTRADICTIONS, _key, findings, report
from tests.conformance.test_terminology import unit_problems

# (style, volume, tags): one persona each
POPULATION = [
    ("plain", "small", ()), ("plain", "typical", ("confidential-items",)), ("plain", "heavy", ()),
    ("emis", "small", ()), ("emis", "typical", ()), ("emis", "heavy", ()),
    ("tpp", "small", ()), ("tpp", "typical", ()),
]


@pytest.fixture(scope="module")
def population(tmp_path_factory):
    folder = tmp_path_factory.mktemp("population")
    files = []
    for style, volume, tags in POPULATION:
        files += gen.generate(1, f"conformance-{style}-{volume}", tags, style=style, volume=volume)
    gen.write_atomically(folder / "p", files)
    app = create_app({"state_dir": str(folder / "state"), "personas": str(folder / "p"), "access_log": False,
                      **cast.PROFILE_READING})
    client = app.test_client()
    payloads = []
    for persona in app.extensions["mockprovider"].personas:
        for sensitive in (False, True):
            body = cast.structured(client, persona, sensitive)
            assert body is not None, persona.nhs_number
            payloads.append((f"{persona.nhs_number}/{'sensitive' if sensitive else 'standard'}", body))
    assert len(payloads) == 2 * len(POPULATION)
    return payloads


def test_generated_personas_conform_to_the_profiles(checker, population):
    labelled, found = findings(checker, population)
    assert len(labelled) > 5000
    found = [(label, f) for label, f in found if _key(f) not in PROFILE_CONTRADICTIONS]
    assert not found, "profile findings:\n" + report(found)


@pytest.fixture(scope="module")
def by_page(population, checker):
    out = defaultdict(list)
    for label, body in population:
        ctx = pages.Ctx(label, body, checker.defs)
        for r in ctx.resources + ctx.contained:
            page = pages.classify(r, ctx)
            if page:
                out[page].append((ctx, r))
    return out


@pytest.mark.parametrize("page,rule,check", pages.RULES, ids=[f"{p}: {r}" for p, r, _ in pages.RULES])
def test_generated_personas_keep_the_page_rules(by_page, page, rule, check):
    failures = {}
    for ctx, r in by_page[page]:
        problem = check(r, ctx)
        if problem:
            failures.setdefault(ctx.label, (pages.key(r), problem))
    pending.settle("page", page, rule, failures, pages.describe(page, rule))


def test_generated_personas_reach_every_page(by_page):
    assert not [page for page in pages.ELEMENTS if not by_page.get(page)]


def test_generated_units_fit_their_codes(population):
    bad = [(label, p) for label, body in population for e in body["entry"]
           if e["resource"]["resourceType"] == "Observation" for p in unit_problems(e["resource"])]
    assert not bad, bad[:5]


@pytest.mark.parametrize("mapper,need,kind_,check", gp2gp.NEEDS, ids=[f"{m}: {n}" for m, n, _, _ in gp2gp.NEEDS])
def test_generated_personas_meet_the_gp2gp_needs(population, mapper, need, kind_, check):
    failures = {}
    for label, body in population:
        b = gp2gp.Bundle(label, body)
        for r in b.resources + b.contained:
            if (not kind_ or r["resourceType"] == kind_) and check(r, b):
                failures.setdefault(label, (f"{r['resourceType']}/{r.get('id')}", check(r, b)))
    assert not failures, f"GP2GP {mapper}: {need}: {failures}"
