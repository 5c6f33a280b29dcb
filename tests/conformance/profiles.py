"""A profile checker over the vendored NHS StructureDefinition snapshots (the part no third-party
validator here can do: the NHS profiles' own constraints).

``Checker().resource(resource, bundle_index)`` returns a list of :class:`Finding` for one resource
validated against the profile its ``meta.profile`` names:

- cardinality of every element the snapshot lists (``min``/``max``, ``max 0`` included), slices too;
- ``fixed[x]`` (equal) and ``pattern[x]`` (contains) values;
- required bindings: the code is in the ValueSet (vendored NHS ValueSets/CodeSystems; HL7 core
  code lists from ``fhir.resources``' STU3 models); SNOMED filters can only check the system;
- terminology, under any binding strength (or none): every Coding whose system is a code system held
  here in full (the vendored NHS CodeSystems and ``definitions/HL7/codesystems.json``) has a code of
  that system, with that system's display (:meth:`Checker.terminology`);
- extensions: every URL is defined by a vendored StructureDefinition, used in a context the
  definition allows, and shaped as it says (value[x] type, nested extensions, bindings);
- elements the profile does not define (a misspelt or removed element);
- references: the target's resource type is one the element allows and, when the target is in the
  Bundle, its profile is the one named (or derives from it).

Findings name the rule kind (``kind``), the element path in the instance and the profile.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tests.conformance import fhirxml as fx

DEFINITIONS = Path(__file__).resolve().parent / "definitions"
SNOMED = "http://snomed.info/sct"
CORE_SD = "http://hl7.org/fhir/StructureDefinition/"
CORE_VS = "http://hl7.org/fhir/ValueSet/"
PRIMITIVES = {"boolean", "integer", "string", "decimal", "uri", "base64Binary", "instant", "date", "dateTime",
              "time", "code", "oid", "id", "markdown", "unsignedInt", "positiveInt", "xhtml"}


@dataclass(frozen=True)
class Finding:
    kind: str        # cardinality | fixed | pattern | binding | terminology | extension | unknown-element | reference | type
    path: str        # where in the instance, e.g. Immunization.extension[1].url
    message: str
    profile: str = ""

    def __str__(self):
        return f"[{self.kind}] {self.path}: {self.message}" + (f" ({self.profile.rsplit('/', 1)[-1]})"
                                                              if self.profile else "")


class Profile:
    """One StructureDefinition's snapshot as a tree: element id -> children, slices beside their base."""

    def __init__(self, sd: dict, base: "Profile | None" = None):
        self.url = fx.one(sd, "url")
        self.type = fx.one(sd, "type")
        self.contexts = fx.many(sd, "context")
        self.elements = {}
        self.children: dict[str, list] = {}
        elements = fx.many(fx.one(sd, "snapshot", {}), "element")
        if not elements and base is not None:
            elements = self.overlay(base, fx.many(fx.one(sd, "differential", {}), "element"))
        for el in elements:
            eid = fx.one(el, "id")
            self.elements[eid] = el
            if "." in eid:
                parent = eid.rsplit(".", 1)[0]
                self.children.setdefault(parent, []).append(el)
        self.root = self.type

    @staticmethod
    def overlay(base: "Profile", differential: list) -> list:
        """A snapshot for a differential-only profile: its differential laid over the CareConnect
        profile it specialises (whose snapshot holds the whole resource)."""
        merged = {eid: dict(el) for eid, el in base.elements.items()}
        order = list(merged)
        for el in differential:
            eid = fx.one(el, "id")
            if eid in merged:
                merged[eid].update({k: v for k, v in el.items() if k != "id"})
            else:
                merged[eid] = dict(el)
                parent = eid.rsplit(".", 1)[0]
                at = max((n for n, e in enumerate(order) if e == parent or e.startswith(parent + ".")
                          or e.startswith(parent + ":")), default=len(order) - 1)
                order.insert(at + 1, eid)
        return [merged[eid] for eid in order]


class Definitions:
    def __init__(self, folder: Path = DEFINITIONS):
        self.profiles, self.valuesets, self.codesystems = {}, {}, {}
        differential_only = []
        for path in sorted(folder.rglob("*.xml")):
            res = fx.read(path)
            url = fx.one(res, "url")
            if res["resourceType"] == "StructureDefinition":
                if fx.one(res, "snapshot"):
                    self.profiles[url] = Profile(res)
                else:
                    differential_only.append(res)
            elif res["resourceType"] == "ValueSet":
                self.valuesets[url] = res
            elif res["resourceType"] == "CodeSystem":
                self.codesystems[url] = res
        for res in differential_only:
            url = fx.one(res, "url")
            base = self.profiles.get(url.replace("https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-",
                                                 "https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-"))
            self.profiles[url] = Profile(res, base)
        self.index = json.loads((folder / "profiles.json").read_text())
        hl7 = folder / "HL7" / "codesystems.json"
        self.hl7_codesystems = {url: codes for url, codes in json.loads(hl7.read_text()).items()
                                if not url.startswith("_")} if hl7.exists() else {}

    def type_of(self, profile_url: str) -> str | None:
        if profile_url in self.profiles:
            return self.profiles[profile_url].type
        if profile_url in self.index:
            return self.index[profile_url]["type"]
        if profile_url.startswith(CORE_SD):
            return profile_url[len(CORE_SD):]
        return None

    def derives_from(self, profile_url: str, wanted: str) -> bool:
        start, seen = profile_url, set()
        while profile_url and profile_url not in seen:
            if profile_url == wanted:
                return True
            seen.add(profile_url)
            profile_url = (self.index.get(profile_url) or {}).get("base")
        if wanted.startswith(CORE_SD):
            return True                           # any profile of the type satisfies the base type
        # The GP Connect profiles are declared on the core type, not on the CareConnect profile they
        # specialise; CareConnect-GPC-X-1 stands for CareConnect-X-1 (same resource type).
        return wanted.replace("https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-",
                              "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-") == start

    def codesystem_codes(self, url: str):
        """code -> display of a code system held in full (a vendored CodeSystem whose content is
        complete, or an HL7 one listed in HL7/codesystems.json); None for any other system."""
        if url in self.hl7_codesystems:
            return self.hl7_codesystems[url]
        cs = self.codesystems.get(url)
        if cs is None or fx.one(cs, "content", "complete") != "complete":
            return None
        out = {}

        def walk(concepts):
            for c in concepts:
                out[fx.one(c, "code")] = fx.one(c, "display")
                walk(fx.many(c, "concept"))
        walk(fx.many(cs, "concept"))
        return out

    @lru_cache(maxsize=None)
    def expand(self, vs_url: str):
        """ValueSet -> (set of (system, code), set of systems accepted whole, checkable?)."""
        vs = self.valuesets.get(vs_url.split("|")[0])
        if vs is None:
            return None
        codes, whole = set(), set()
        for inc in fx.many(fx.one(vs, "compose", {}), "include"):
            system = fx.one(inc, "system")
            for sub in fx.many(inc, "valueSet"):
                expanded = self.expand(sub)
                if expanded:
                    codes |= expanded[0]
                    whole |= expanded[1]
            concepts = fx.many(inc, "concept")
            if concepts:
                codes |= {(system, fx.one(c, "code")) for c in concepts}
            elif system and not fx.many(inc, "filter"):
                known = self.codesystem_codes(system)
                if known is not None:
                    codes |= {(system, code) for code in known}
                else:
                    whole.add(system)
            elif system:
                whole.add(system)        # a filter (SNOMED is-a / ECL): only the system can be checked
        for exp in fx.many(fx.one(vs, "expansion", {}), "contains"):
            codes.add((fx.one(exp, "system"), fx.one(exp, "code")))
        return frozenset(codes), frozenset(whole)


# HL7 core ValueSets a profile binds where the element's own model has no code list (a Duration's
# code bound to units-of-time in MedicationRequest.dispenseRequest.expectedSupplyDuration).
# OperationOutcome.issue.code (an OperationOutcome inside a Bundle: Retrieve a structured record's
# forward-compatibility warning): the STU3 issue-type codes (hl7.org/fhir/STU3/valueset-issue-type.html),
# which fhir.resources does not enumerate.
CORE_VALUESETS = {"http://hl7.org/fhir/ValueSet/units-of-time": frozenset({"s", "min", "h", "d", "wk", "mo", "a"}),
                  "http://hl7.org/fhir/ValueSet/issue-type": frozenset({
                      "invalid", "structure", "required", "value", "invariant", "security", "login", "unknown",
                      "expired", "forbidden", "suppressed", "processing", "not-supported", "duplicate", "not-found",
                      "too-long", "code-invalid", "extension", "too-costly", "business-rule", "conflict",
                      "incomplete", "transient", "lock-error", "no-store", "exception", "timeout", "throttled",
                      "informational"})}


@lru_cache(maxsize=None)
def core_codes(path: str):
    """HL7 core required-binding codes for a ``code`` element, from fhir.resources' STU3 models."""
    from fhir.resources.STU3 import get_fhir_model_class
    parts = path.split(".")
    try:
        model = get_fhir_model_class(parts[0])
    except Exception:
        return None
    for n, name in enumerate(parts[1:]):
        field = model.model_fields.get(name) or model.model_fields.get(name + "__ext")
        if field is None:
            return None
        if n == len(parts) - 2:
            extra = field.json_schema_extra or {}
            return frozenset(extra.get("enum_values") or []) or None
        found = re.search(r"(\w+)Type\b", str(field.annotation))
        try:
            model = get_fhir_model_class(found.group(1)) if found else None
        except Exception:
            model = None
        if model is None:
            return None
    return None


def _as_list(value):
    return value if isinstance(value, list) else [value]


def matches(pattern, value) -> bool:
    """FHIR pattern semantics over list-shaped definition values."""
    if isinstance(pattern, list):
        values = _as_list(value)
        return all(any(matches(p, v) for v in values) for p in pattern)
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and matches(p, value[k]) for k, p in pattern.items())
    if isinstance(value, bool):
        return str(value).lower() == pattern
    if isinstance(value, (int, float)):
        try:
            return float(pattern) == float(value)
        except ValueError:
            return False
    return value == pattern


def _constrains(el) -> bool:
    """True when an element narrows its value (a fixed/pattern value, a binding, or one type); a
    snapshot's copy of the base Extension.value[x] (every type) or a differential listing only the
    id does not, so a complex extension slice is checked against its own definition."""
    if any(k.startswith(("fixed", "pattern")) for k in el) or fx.one(el, "binding"):
        return True
    return len(fx.many(el, "type")) == 1


def _choice_type(stem: str, key: str):
    rest = key[len(stem):]
    return rest if rest[:1].isupper() else None


def _type_code(type_name: str, allowed: list) -> str | None:
    for code in allowed:
        if code.lower() == type_name.lower():
            return code
    return None


class Checker:
    def __init__(self, definitions: Definitions | None = None):
        self.defs = definitions or Definitions()
        self.unbound = set()          # required ValueSets that could not be checked (reported)

    # --- entry points -------------------------------------------------------------------------------------
    def resource(self, res: dict, index: dict | None = None) -> list[Finding]:
        index = index or {}
        profiles = res.get("meta", {}).get("profile", [])
        if not profiles:
            return []
        out = []
        for url in profiles:
            profile = self.defs.profiles.get(url)
            if profile is None:
                out.append(Finding("profile", res["resourceType"], f"meta.profile {url} is not a known profile"))
                continue
            if profile.type != res["resourceType"]:
                out.append(Finding("profile", res["resourceType"], f"{url} profiles {profile.type}", url))
                continue
            self._node(profile, profile.root, res, res["resourceType"], out, res, index)
        # (a Bundle's entries and a resource's contained ones are resources checked on their own)
        own = {k: v for k, v in res.items() if k != "contained" and not (k == "entry" and res["resourceType"] == "Bundle")}
        out += self.terminology(own, res["resourceType"], profiles[0] if profiles else "")
        for c in res.get("contained", []):
            out += [Finding(f.kind, f"{res['resourceType']}.contained/{f.path}", f.message, f.profile)
                    for f in self.resource(c, index)]
        return out

    def terminology(self, node, path: str, profile: str = "") -> list[Finding]:
        """An unknown code in a known code system is an error whatever the binding (required,
        extensible, preferred, example or none): every Coding anywhere in ``node`` whose system this
        checker holds in full must name one of its codes, with its display."""
        out = []
        if isinstance(node, dict):
            system, code = node.get("system"), node.get("code")
            if isinstance(system, str) and isinstance(code, str):
                known = self.defs.codesystem_codes(system)
                if known is not None and code not in known:
                    out.append(Finding("terminology", path, f"{code!r} is not a code of {system}", profile))
                elif known is not None and node.get("display") not in (None, known[code]):
                    out.append(Finding("terminology", path, f"display {node.get('display')!r} is not "
                                       f"{known[code]!r} for {system}|{code}", profile))
            for key, value in node.items():
                if isinstance(value, (dict, list)):
                    out += self.terminology(value, f"{path}.{key}", profile)
        elif isinstance(node, list):
            for n, value in enumerate(node):
                out += self.terminology(value, f"{path}[{n}]", profile)
        return out

    # --- the walk -----------------------------------------------------------------------------------------
    def _node(self, profile: Profile, el_id: str, node: dict, path: str, out: list, res: dict, index: dict):
        kids = profile.children.get(el_id, [])
        if not isinstance(node, dict):
            out.append(Finding("type", path, f"expected an object, got {type(node).__name__}", profile.url))
            return
        bases, slices = [], {}
        for el in kids:
            name = fx.one(el, "id").rsplit(".", 1)[1]
            if ":" in name:
                base, slice_name = name.split(":", 1)
                slices.setdefault(base, []).append(el)
            else:
                bases.append(el)
        handled = {"resourceType"}
        for el in bases:
            name = fx.one(el, "id").rsplit(".", 1)[1]
            types = [fx.one(t, "code") for t in fx.many(el, "type")]
            if name.endswith("[x]"):
                stem = name[:-3]
                keys = [k for k in node if k.startswith(stem) and _choice_type(stem, k)]
                # a renamed choice slice (value[x]:valueCodeableConcept) restricts the type
                typed = {fx.one(s, "sliceName"): s for s in slices.get(name, [])}
            else:
                keys = [name] if name in node else []
                typed = {}
                # element ids such as "valueCodeableConcept:valueCodeableConcept"
            handled.update(keys)
            values = []
            for key in keys:
                for i, v in enumerate(_as_list(node[key])):
                    values.append((key, i if isinstance(node[key], list) else None, v))
            self._cardinality(el, len(values), f"{path}.{name}", profile, out)
            if name.endswith("[x]"):
                for key, i, v in values:
                    tname = _choice_type(name[:-3], key)
                    code = _type_code(tname, types)
                    if code is None and key not in typed:
                        out.append(Finding("type", f"{path}.{key}", f"type {tname} not allowed (allowed: "
                                           f"{', '.join(types)})", profile.url))
                        continue
                    target = typed.get(key, el)
                    self._value(profile, target, v, self._p(path, key, i), out, res, index, code or tname)
                continue
            sliced = slices.get(name, [])
            inline = set()
            if sliced and fx.one(el, "slicing"):
                inline = self._slices(profile, el, sliced, values, f"{path}.{name}", out, res, index)
            for n, (key, i, v) in enumerate(values):
                kind = types[0] if types else None
                if kind == "Extension" and n in inline:
                    continue        # a nested extension, validated against its slice
                self._value(profile, el, v, self._p(path, key, i), out, res, index, kind)
        # choices given only as type slices ("value[x]:valueDateTime") or renamed ones
        # ("valueCodeableConcept:valueCodeableConcept"): the instance key must be one of the slice names
        for base, els in slices.items():
            if any(fx.one(b, "id").rsplit(".", 1)[1] == base for b in bases):
                continue
            stem = base[:-3] if base.endswith("[x]") else None
            if stem is None:
                stem = next((s for s in ("value",) if base.startswith(s) and _choice_type(s, base)), base)
            keys = [k for k in node if k == stem or (k.startswith(stem) and _choice_type(stem, k))]
            handled.update(keys)
            named = {fx.one(el, "sliceName"): el for el in els}
            for key in keys:
                el = named.get(key)
                if el is None:
                    out.append(Finding("type", f"{path}.{key}", f"only {', '.join(named)} allowed here",
                                       profile.url))
                    continue
                for v in _as_list(node[key]):
                    self._value(profile, el, v, f"{path}.{key}", out, res, index,
                                fx.one(fx.one(el, "type", {}), "code"))
            for name, el in named.items():
                self._cardinality(el, len(_as_list(node[name])) if name in node else 0, f"{path}.{name}",
                                  profile, out)
        if kids:
            for key in node:
                if key in handled or key.startswith("_"):
                    continue
                out.append(Finding("unknown-element", f"{path}.{key}", "element not defined by the profile",
                                   profile.url))

    @staticmethod
    def _p(path, key, i):
        return f"{path}.{key}" + (f"[{i}]" if i is not None else "")

    @staticmethod
    def _cardinality(el, count, path, profile, out):
        lo = int(fx.one(el, "min", "0"))
        hi = fx.one(el, "max", "*")
        if count < lo:
            out.append(Finding("cardinality", path, f"{count} present, min {lo}", profile.url))
        if hi != "*" and count > int(hi):
            what = "must not be present (max 0)" if hi == "0" else f"{count} present, max {hi}"
            out.append(Finding("cardinality", path, what, profile.url))

    def _value(self, profile, el, v, path, out, res, index, type_code):
        for key, val in el.items():
            if key.startswith("fixed") and not matches(fx.plain(val[0]) if isinstance(val[0], dict) else val[0], v):
                out.append(Finding("fixed", path, f"{json.dumps(v)[:80]} differs from the fixed value "
                                   f"{json.dumps(fx.plain(val[0]))[:80]}", profile.url))
            elif key.startswith("pattern") and not matches(
                    fx.plain(val[0]) if isinstance(val[0], dict) else val[0], v):
                out.append(Finding("pattern", path, f"{json.dumps(v)[:80]} does not match the pattern "
                                   f"{json.dumps(fx.plain(val[0]))[:80]}", profile.url))
        binding = fx.one(el, "binding")
        if binding and fx.one(binding, "strength") == "required":
            vs = fx.one(fx.one(binding, "valueSetReference", {}), "reference") or fx.one(binding, "valueSetUri")
            self._binding(vs, v, path, type_code, fx.one(el, "path"), profile, out)
        if type_code == "Reference":
            self._reference(el, v, path, profile, out, res, index)
        if type_code == "Extension" and isinstance(v, dict):
            self._extension(el, v, path, profile, out, res, index)
            return
        if type_code in PRIMITIVES:
            ok = isinstance(v, bool) if type_code == "boolean" else (
                isinstance(v, (int, float)) and not isinstance(v, bool) if type_code in (
                    "integer", "decimal", "unsignedInt", "positiveInt") else isinstance(v, str))
            if not ok:
                out.append(Finding("type", path, f"{json.dumps(v)[:40]} is not a {type_code}", profile.url))
            return
        if isinstance(v, dict) and profile.children.get(fx.one(el, "id")):
            self._node(profile, fx.one(el, "id"), v, path, out, res, index)

    def _slices(self, profile, el, sliced, values, path, out, res, index):
        slicing = fx.one(el, "slicing")
        discs = [(fx.one(d, "type"), fx.one(d, "path")) for d in fx.many(slicing, "discriminator")]
        counts = {fx.one(s, "sliceName"): 0 for s in sliced}
        inline = set()
        for n, (key, i, v) in enumerate(values):
            hit = None
            for s in sliced:
                if self._in_slice(profile, s, discs, v):
                    hit = s
                    break
            if hit is None:
                if fx.one(slicing, "rules") == "closed":
                    out.append(Finding("cardinality", self._p(path.rsplit(".", 1)[0], key, i),
                                       "matches no slice of a closed slicing", profile.url))
                continue
            counts[fx.one(hit, "sliceName")] += 1
            sid = fx.one(hit, "id")
            types = [fx.one(t, "code") for t in fx.many(hit, "type")]
            if types == ["Extension"] and not any(fx.many(t, "profile") for t in fx.many(hit, "type")):
                inline.add(n)
            # A slice naming an extension definition is checked against that definition; its own
            # children are used only when they constrain the value (differentials list just the url).
            partial = any(fx.many(t, "profile") for t in fx.many(hit, "type")) and not any(
                fx.one(e, "id").rsplit(".", 1)[1].startswith("value") and _constrains(e)
                for e in profile.children.get(sid, []))
            if profile.children.get(sid) and not partial:
                self._value_slice(profile, hit, v, self._p(path.rsplit(".", 1)[0], key, i), out, res, index,
                                  types[0] if types else None)
        for s in sliced:
            self._cardinality(s, counts[fx.one(s, "sliceName")], f"{path}:{fx.one(s, 'sliceName')}", profile, out)
        return inline

    def _value_slice(self, profile, s, v, path, out, res, index, type_code):
        # the slice's own fixed values / bindings and its children (not its extension definition twice)
        for key, val in s.items():
            if key.startswith(("fixed", "pattern")) and not matches(
                    fx.plain(val[0]) if isinstance(val[0], dict) else val[0], v):
                out.append(Finding(key[:5] if key.startswith("fixed") else "pattern", path,
                                   f"{json.dumps(v)[:80]} differs from {json.dumps(fx.plain(val[0]))[:80]}",
                                   profile.url))
        binding = fx.one(s, "binding")
        if binding and fx.one(binding, "strength") == "required":
            vs = fx.one(fx.one(binding, "valueSetReference", {}), "reference") or fx.one(binding, "valueSetUri")
            self._binding(vs, v, path, type_code, fx.one(s, "path"), profile, out)
        if isinstance(v, dict):
            self._node(profile, fx.one(s, "id"), v, path, out, res, index)

    def _in_slice(self, profile, s, discs, v) -> bool:
        sid = fx.one(s, "id")
        for kind, dpath in discs:
            if dpath == "url" and isinstance(v, dict):
                profiles = [p for t in fx.many(s, "type") for p in fx.many(t, "profile")]
                fixed = profile.elements.get(f"{sid}.url")
                want = (fx.one(fixed, "fixedUri") if fixed else None) or (profiles[0] if profiles else None)
                if v.get("url") != want:
                    return False
                continue
            target = profile.elements.get(f"{sid}.{dpath}")
            if target is None:
                return False
            fixed = next((val[0] for key, val in target.items() if key.startswith(("fixed", "pattern"))), None)
            actual = v.get(dpath) if isinstance(v, dict) else None
            if fixed is None or not matches(fx.plain(fixed) if isinstance(fixed, dict) else fixed, actual):
                return False
        return bool(discs)

    def _binding(self, vs_url, v, path, type_code, el_path, profile, out):
        if not vs_url:
            return
        expanded = self.defs.expand(vs_url)
        if expanded is None:
            if type_code == "code" and isinstance(v, str):
                codes = CORE_VALUESETS.get(vs_url.split("|")[0]) or core_codes(el_path)
                if codes is None:
                    self.unbound.add(vs_url)
                elif v not in codes and "+" not in codes:
                    # ("+": fhir.resources abbreviated the list, e.g. STU3 encounter-status lists up to
                    # cancelled but also has entered-in-error and unknown; a value past it is not judged)
                    out.append(Finding("binding", path, f"{v!r} is not in {vs_url}", profile.url))
            else:
                self.unbound.add(vs_url)
            return
        codes, whole = expanded
        if type_code == "code" and isinstance(v, str):
            if v not in {c for _, c in codes} and not whole:
                out.append(Finding("binding", path, f"{v!r} is not in {vs_url}", profile.url))
            return
        codings = [v] if type_code == "Coding" else (v.get("coding", []) if isinstance(v, dict) else [])
        if not codings:
            out.append(Finding("binding", path, f"no coding from the required ValueSet {vs_url}", profile.url))
            return
        if not any((c.get("system"), c.get("code")) in codes or c.get("system") in whole for c in codings):
            shown = ", ".join(f"{c.get('system')}|{c.get('code')}" for c in codings)
            out.append(Finding("binding", path, f"{shown} is not in {vs_url}", profile.url))
            return
        for c in codings:           # a display from a CodeSystem we hold must be its display
            known = self.defs.codesystem_codes(c.get("system"))
            if known and c.get("code") in known and c.get("display") not in (None, known[c.get("code")]):
                out.append(Finding("binding", path, f"display {c.get('display')!r} is not "
                                   f"{known[c.get('code')]!r} for {c.get('code')}", profile.url))

    def _reference(self, el, v, path, profile, out, res, index):
        if not isinstance(v, dict) or "reference" not in v:
            return
        refs = [t for t in fx.many(el, "type") if fx.one(t, "code") == "Reference"]
        if not refs or any(not fx.many(t, "targetProfile") for t in refs):
            return          # a Reference type without targetProfile allows any target
        targets = [p for t in refs for p in fx.many(t, "targetProfile")]
        ref = v["reference"]
        if ref.startswith("#"):
            target = next((c for c in res.get("contained", []) if c.get("id") == ref[1:]), None)
            if target is None:
                out.append(Finding("reference", path, f"{ref} names no contained resource", profile.url))
                return
        else:
            kind = ref.split("/")[-2] if "/" in ref else None
            target = index.get("/".join(ref.split("/")[-2:]))
            if target is None:
                allowed = {self.defs.type_of(t) for t in targets}
                if kind not in allowed and "Resource" not in allowed:
                    out.append(Finding("reference", path, f"{ref}: a {kind} where only "
                                       f"{', '.join(sorted(a for a in allowed if a))} is allowed", profile.url))
                return
        allowed = {self.defs.type_of(t) for t in targets}
        if target["resourceType"] not in allowed and "Resource" not in allowed:
            out.append(Finding("reference", path, f"{ref}: a {target['resourceType']} where only "
                               f"{', '.join(sorted(a for a in allowed if a))} is allowed", profile.url))
            return
        named = target.get("meta", {}).get("profile", [])
        wanted = [t for t in targets if self.defs.type_of(t) == target["resourceType"]]
        if named and wanted and not any(self.defs.derives_from(n, w) for n in named for w in wanted):
            out.append(Finding("reference", path, f"{ref} has profile {named[0].rsplit('/', 1)[-1]}, not "
                               f"{' or '.join(w.rsplit('/', 1)[-1] for w in wanted)}", profile.url))

    def _extension(self, el, v, path, profile, out, res, index):
        url = v.get("url")
        if not isinstance(url, str):
            out.append(Finding("extension", path, "extension without url", profile.url))
            return
        definition = self.defs.profiles.get(url)
        if definition is None:
            out.append(Finding("extension", path, f"{url} is defined by no StructureDefinition", profile.url))
            return
        # context: the resource type (or Element/Resource/DomainResource) this extension may sit on
        contexts = definition.contexts
        where = fx.one(el, "path", "")
        if contexts and not any(c in ("Element", "Resource", "DomainResource") or where == c or
                                where.startswith(c + ".") or where.rsplit(".", 1)[0] == c or
                                c.split(".")[0] == where.split(".")[0] for c in contexts):
            out.append(Finding("extension", path, f"{url} may not be used on {where} (context "
                               f"{', '.join(contexts)})", profile.url))
        self._node(definition, "Extension", v, path + f"<{url.rsplit('/', 1)[-1]}>", out, res, index)
