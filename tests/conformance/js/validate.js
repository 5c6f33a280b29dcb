// Third-party validation for the conformance check (run by tests/conformance/thirdparty.py).
//
// Input (file named on the command line): {"definitions": [StructureDefinition JSON], "resources":
// [{"label", "resource"}]}. Output (stdout): {"fhirjs": [...], "fhirpath": [...], "stats": {...}}.
//
// - FHIR.js (npm "fhir", STU3 mode): each NHS profile's snapshot is loaded as the definition of its
//   resource type, and every resource is validated against it: required elements, element types,
//   repetition, and codes of required bindings FHIR.js knows. Data types come from FHIR.js's own
//   bundled definitions.
// - fhirpath.js (npm "fhirpath", STU3 model): every error-severity invariant (constraint.expression)
//   of the profile's snapshot is evaluated on each element it constrains.
'use strict';
const fs = require('fs');
const { Fhir, ParseConformance, Versions } = require('fhir');
const fhirpath = require('fhirpath');
const stu3 = require('fhirpath/fhir-context/stu3');

const input = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const byUrl = {};
for (const sd of input.definitions) byUrl[sd.url] = sd;

// One FHIR.js parser per profile (a resource type may have several profiles, e.g. two Bundles).
const validators = {};
// ValueSets the definitions enumerate fully (vendored NHS ones); any other binding (SNOMED filters,
// HL7 core ValueSets that FHIR.js only knows in their R4 form) is left to profiles.py.
const enumerable = new Set((input.valueSets || []).map((vs) => vs.url));
const skipCode = (valueSetUrl) => !enumerable.has((valueSetUrl || '').split('|')[0]);
function validatorFor(url) {
  if (validators[url] !== undefined) return validators[url];
  const sd = byUrl[url];
  if (!sd || !sd.snapshot) return (validators[url] = null);
  const parser = new ParseConformance(true, Versions.STU3);
  for (const vs of input.valueSets || []) parser.parseValueSet(vs);
  parser.parseStructureDefinition(Object.assign({}, sd, { id: sd.type }));
  return (validators[url] = new Fhir(parser));
}

// Invariants: [path, key, human, compiled] per profile.
const invariants = {};
let skipped = new Set();
function invariantsFor(url) {
  if (invariants[url]) return invariants[url];
  const out = [];
  const seen = new Set();
  const sd = byUrl[url];
  for (const el of (sd && sd.snapshot ? sd.snapshot.element : [])) {
    for (const c of el.constraint || []) {
      if (c.severity !== 'error' || !c.expression) continue;
      if (c.key === 'ele-1') continue;  // 'has a value or children': STU3's form needs hasValue() on a node, checked structurally by FHIR.js
      const path = el.path.replace(/\[x\]/g, '');
      const id = path + '|' + c.key;
      if (seen.has(id)) continue;
      seen.add(id);
      // Each node the element describes is the context; an empty result passes (as the HL7 validator does).
      try {
        const select = fhirpath.compile(path, stu3, { resolveInternalTypes: false });
        const check = fhirpath.compile(c.expression, stu3, { traceFn: () => {} });
        out.push([path, c.key, c.human, (resource) => select(resource).map((node) => check(node, { resource }))]);
      } catch (e) {
        skipped.add(`${c.key}: ${c.expression}`);
      }
    }
  }
  return (invariants[url] = out);
}

const fhirjs = [], invariantFindings = [];
let evaluated = 0;
for (const { label, resource } of input.resources) {
  const profiles = (resource.meta && resource.meta.profile) || [];
  for (const url of profiles) {
    const v = validatorFor(url);
    if (v) {
      const result = v.validate(resource, { errorOnUnexpected: false, beforeCheckCode: skipCode });
      for (const m of result.messages || []) {
        // FHIR.js compares a reference's type with the targetProfile's last path segment, which for
        // NHS profile URLs is the profile name: reference targets are checked by profiles.py instead.
        if (m.message.startsWith('Invalid type for reference')) continue;
        // A Bundle's entries are validated one by one against their own profiles, not through the Bundle.
        if (resource.resourceType === 'Bundle' && !(m.location || '').startsWith('Bundle')) continue;
        if (m.severity === 'error' || m.severity === 'fatal')
          fhirjs.push({ label, resourceType: resource.resourceType, id: resource.id, location: m.location, message: m.message });
      }
    }
    for (const [path, key, human, fn] of invariantsFor(url)) {
      evaluated += 1;
      let ok;
      try {
        ok = fn(resource);
      } catch (e) {
        skipped.add(`${key}: ${String(e.message || e).slice(0, 80)}`);
        continue;
      }
      if (ok.some((r) => Array.isArray(r) && r.length === 1 && r[0] === false))
        invariantFindings.push({ label, resourceType: resource.resourceType, id: resource.id, path, key, human });
    }
  }
}
process.stdout.write(JSON.stringify({
  fhirjs, fhirpath: invariantFindings,
  stats: { resources: input.resources.length, invariantsEvaluated: evaluated, skipped: [...skipped].sort(),
           fhir: require('fhir/package.json').version, fhirpathVersion: require('fhirpath/package.json').version },
}));
