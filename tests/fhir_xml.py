"""Reading FHIR XML answers in tests without the product's serialiser or its element table.

Both forms are brought to one neutral shape and compared: every element name maps to a list of
values (XML cannot say whether one occurrence is a list); a primitive is its text (``true``,
``12``, ``2.5``); a nested resource is ``{resourceType: [fields]}``; ``Narrative.div`` is its text
content. So ``neutral_json(json_resource) == neutral_xml(xml_bytes)`` says the two carry the same
content, and :func:`element_order_errors` checks the XML order against fhir.resources' STU3
models (the definitions' order), independently of the vendored table the product uses.
"""
from __future__ import annotations

import json
from xml.etree import ElementTree

NS = "{http://hl7.org/fhir}"
XHTML = "{http://www.w3.org/1999/xhtml}"
FHIR_XML = "application/fhir+xml;charset=utf-8"


def _text(value) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return value


def _div_text(div: str) -> str:
    return "".join(ElementTree.fromstring(div).itertext()).strip()


def neutral_json(value, key=None):
    if isinstance(value, dict):
        if "resourceType" in value:
            rest = {k: v for k, v in value.items() if k != "resourceType"}
            return {value["resourceType"]: [neutral_json(rest)]}
        out = {}
        for k, v in value.items():
            if k.startswith("_"):
                continue
            items = v if isinstance(v, list) else [v]
            out[k] = [neutral_json(item, k) for item in items]
        return out
    if key == "div":
        return _div_text(value)
    return _text(value)


def _neutral_element(element):
    children = list(element)
    attrs = {k: [v] for k, v in element.attrib.items() if k != "value"}
    if "value" in element.attrib and not children and not attrs:
        return element.attrib["value"]
    out = dict(attrs)
    for child in children:
        tag = child.tag
        if tag.startswith(XHTML):
            out.setdefault("div", []).append("".join(child.itertext()).strip())
            continue
        assert tag.startswith(NS), f"element {tag} outside the FHIR namespace"
        name = tag[len(NS):]
        out.setdefault(name, []).append(_neutral_element(child))
    return out


def neutral_xml(body: bytes):
    root = ElementTree.fromstring(body)
    assert root.tag.startswith(NS), root.tag
    return {root.tag[len(NS):]: [_neutral_element(root)]}


def resource_name(body: bytes) -> str:
    return ElementTree.fromstring(body).tag[len(NS):]


def get(neutral: dict, *path):
    """Follow element names, taking the first occurrence at each step: get(n, "issue", "code")."""
    node = neutral
    for name in path:
        node = node[name][0]
    return node


def element_order_errors(body: bytes) -> list[str]:
    """Every element whose children are out of their STU3 definition order."""
    from fhir.resources.STU3 import get_fhir_model_class
    import re

    errors = []

    def kind_of(cls, name):
        field = cls.model_fields.get(name) or next((f for n, f in cls.model_fields.items() if f.alias == name), None)
        m = re.search(r"abc\.(\w+)Type\b", str(field.annotation)) if field else None
        return m.group(1) if m else None

    def walk(element, type_name, path):
        cls = get_fhir_model_class(type_name)
        order = cls.elements_sequence()
        last = -1
        for child in element:
            if not child.tag.startswith(NS):
                continue
            name = child.tag[len(NS):]
            if name not in order:
                errors.append(f"{path}.{name}: not an element of {type_name}")
                continue
            at = order.index(name)
            if at < last:
                errors.append(f"{path}.{name}: out of order in {type_name}")
            last = at
            kind = kind_of(cls, name)
            if kind == "Resource":
                inner = list(child)[0]
                walk(inner, inner.tag[len(NS):], f"{path}.{name}")
            elif kind:
                walk(child, kind, f"{path}.{name}")

    root = ElementTree.fromstring(body)
    walk(root, root.tag[len(NS):], root.tag[len(NS):])
    return errors
