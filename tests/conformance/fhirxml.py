"""Read the vendored FHIR XML definitions (StructureDefinition, ValueSet, CodeSystem) as plain dicts.

A deliberately small reader: every child element becomes a list of values (``{"element": [...]}``),
an element with only a ``value`` attribute becomes that string. Callers use :func:`one` / :func:`many`,
so cardinality never has to be known here. ``xhtml`` ``div`` narrative is dropped.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

NS = "{http://hl7.org/fhir}"


def _node(el):
    children = list(el)
    if not children and "value" in el.attrib:
        return el.attrib["value"]
    out = {}
    for key, value in el.attrib.items():
        if key != "value":
            out.setdefault(key, []).append(value)
    if "value" in el.attrib:
        out["value"] = [el.attrib["value"]]
    for child in children:
        if not child.tag.startswith(NS):
            continue            # xhtml narrative
        name = child.tag[len(NS):]
        if name == "text" and el.tag in (NS + "StructureDefinition", NS + "ValueSet", NS + "CodeSystem"):
            continue
        out.setdefault(name, []).append(_node(child))
    return out


def read(path) -> dict:
    root = ET.parse(path).getroot()
    out = _node(root)
    out["resourceType"] = root.tag[len(NS):]
    return out


def many(node, name) -> list:
    if not isinstance(node, dict):
        return []
    return node.get(name, [])


def one(node, name, default=None):
    values = many(node, name)
    return values[0] if values else default


def plain(value):
    """A list-shaped value as ordinary FHIR JSON-ish data (single-item lists unwrapped)."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v[0]) if len(v) == 1 else plain(v) for k, v in value.items()}
    return value
