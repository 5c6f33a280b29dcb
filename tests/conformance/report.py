"""Figures for a closing note: run every conformance check over the whole cast and count.

    .venv/bin/python -m tests.conformance.report [--personas DIR] [--json]

Renders every built-in persona's migrate Bundle in both sensitivity modes (as ``cast.payloads`` does,
through the HTTP layer, start-up defaults and the profile readings), then counts:

- resources checked (distinct resources, contained ones included, as the profile test counts them);
- profile findings (``profiles.Checker``) by kind;
- page-rule failures (``test_page_rules.RULES``) by page and rule, one per failing resource;
- GP2GP adaptor needs (``test_gp2gp_needs.NEEDS``) by mapper and need, one per failing resource;
- units that do not match their code (``test_terminology.UNITS``).

Nothing here asserts: the tests do. This prints what they would see, resource by resource.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections import Counter

from mockprovider.app import create_app
from tests.conformance import cast
from tests.conformance.profiles import Checker


def payloads(overrides: dict, personas: str | None = None) -> list:
    settings = {"state_dir": tempfile.mkdtemp(prefix="report-state-"), "access_log": False, **overrides}
    if personas:
        settings["personas"] = personas
    app = create_app(settings)
    return cast.payloads(app.test_client(), app.extensions["mockprovider"].personas) if not personas else [
        (f"{p.nhs_number}/{'sensitive' if s else 'standard'}", body)
        for p in app.extensions["mockprovider"].personas for s in (False, True)
        for body in [cast.structured(app.test_client(), p, s)] if body is not None]


def count(checker: Checker, default_cast: list, profile_cast: list) -> dict:
    from tests.conformance import test_gp2gp_needs as gp2gp
    from tests.conformance import test_page_rules as pages
    from tests.conformance import test_terminology as terms

    out: dict = {}
    labelled, indexes = cast.resources(profile_cast)
    out["resources_checked"] = len(labelled)
    out["bundles"] = sum(1 for _, b in profile_cast if b.get("type") == "collection")
    kinds, keys = Counter(), Counter()
    for label, resource in labelled:
        for f in checker.resource(resource, indexes[label]):
            kinds[f.kind] += 1
            path = re.sub(r"\[\d+\]", "", f.path)
            message = re.sub(r"[0-9a-fA-F-]{36}", "ID", f.message)[:90]
            keys[f"[{f.kind}] {path}: {message}"] += 1
    out["profile_findings_by_kind"] = dict(kinds.most_common())
    out["profile_findings"] = dict(keys.most_common(40))

    rules, seen_pages = Counter(), Counter()
    for label, body in default_cast:
        if body.get("meta", {}).get("profile") != [pages.SD + "GPConnect-StructuredRecord-Bundle-1"]:
            continue
        ctx = pages.Ctx(label, body, checker.defs)
        for r in ctx.resources + ctx.contained:
            page = pages.classify(r, ctx)
            if not page:
                continue
            seen_pages[page] += 1
            for row_page, rule, check in pages.RULES:
                if row_page == page and check(r, ctx):
                    rules[f"{page}: {rule}"] += 1
    out["page_resources_by_page"] = dict(sorted(seen_pages.items()))
    out["page_rule_failures"] = dict(rules.most_common())

    needs = Counter()
    for label, body in default_cast:
        if body.get("type") != "collection":
            continue
        b = gp2gp.Bundle(label, body)
        for r in b.resources + b.contained:
            for mapper, need, kind, check in gp2gp.NEEDS:
                if (not kind or r["resourceType"] == kind) and check(r, b):
                    needs[f"{label.split('/')[0]} {mapper}: {need}"] += 1
    out["gp2gp_failures"] = dict(needs.most_common())

    units = Counter()
    for label, body in default_cast:
        for e in body.get("entry", []):
            r = e["resource"]
            if r["resourceType"] != "Observation":
                continue
            for code, q in terms.quantities(r):
                sct = next((c["code"] for c in code.get("coding", []) if c.get("system") == terms.SNOMED), None)
                if sct in terms.UNITS and q.get("code") not in terms.UNITS[sct]:
                    units[f"{sct} in {q.get('code')}"] += 1
    out["unit_mismatches"] = dict(units.most_common())
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--personas", help="a persona folder instead of the built-in cast")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    default_cast = payloads({}, args.personas)
    profile_cast = payloads(cast.PROFILE_READING, args.personas)
    result = count(Checker(), default_cast, profile_cast)
    if args.json:
        json.dump(result, sys.stdout, indent=1)
        print()
        return 0
    for name, value in result.items():
        if isinstance(value, dict):
            print(f"{name}:")
            for k, v in value.items():
                print(f"  {v:6} {k}")
        else:
            print(f"{name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
