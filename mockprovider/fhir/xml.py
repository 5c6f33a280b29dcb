"""FHIR XML: the same resources as the JSON form, as STU3 XML (``application/fhir+xml``).

Rules (FHIR STU3 "XML Representation"): elements in the order of their definition (from the
vendored table ``stu3_elements.json``, made by ``tools/fhir_xml_table.py``); a primitive is an
element with a ``value`` attribute (its JSON ``_name`` twin adds ``id`` and extensions inside it);
``id`` of a data type or backbone element and ``Extension.url`` are attributes; ``Narrative.div``
is the XHTML itself; a nested resource (``Bundle.entry.resource``, ``Parameters.parameter.resource``,
``contained``) is an element named after its type inside the element that holds it; every resource
element carries ``xmlns="http://hl7.org/fhir"``.

Deterministic: the same dict always gives the same bytes (the table fixes the order, not the dict).
The JSON and XML of a resource are built from the same dict, so they carry the same content;
``tests/api/test_xml.py`` parses both and compares them resource by resource.

:func:`from_xml_bytes` reads FHIR XML back into the JSON form (for XML request bodies): primitive
values become JSON booleans and numbers where the table says so; an element the table does not
know is kept (as a string or object) so that the caller's own validation names it.
"""
from __future__ import annotations

import json
import os
import re
from xml.etree import ElementTree

NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
PRIMITIVES = frozenset(("bool", "int", "dec", "str"))

with open(os.path.join(os.path.dirname(__file__), "stu3_elements.json"), encoding="utf-8") as _fh:
    _RAW = json.load(_fh)
# type -> {element: (kind, many)} and type -> [element, ...] in XML order
TABLE = {name: {row[0]: (row[1], bool(row[2])) for row in rows} for name, rows in _RAW.items()}
ORDER = {name: [row[0] for row in rows] for name, rows in _RAW.items()}
del _RAW

_ESCAPE = re.compile(r'[&<>"\n\r\t\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
# Characters XML 1.0 cannot carry at all (JSON escapes them): U+FFFD stands in, e.g. for a NUL
# echoed from a request path in an OperationOutcome's diagnostics.
_REPLACEMENT = "\ufffd"


class XmlError(ValueError):
    """A resource the table cannot place (an unknown element), or XML that is not FHIR."""


def _text(value) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    text = str(value)
    return _ESCAPE.sub(lambda m: _ENTITIES.get(m.group(0), _REPLACEMENT), text) if _ESCAPE.search(text) else text


def to_xml_bytes(resource: dict) -> bytes:
    out = [DECLARATION]
    _resource(resource, out, "")
    return "".join(out).encode("utf-8")


def _resource(resource: dict, out: list, path: str) -> None:
    rtype = resource.get("resourceType")
    if rtype not in TABLE:
        raise XmlError(f"{path or 'resource'}: unknown resourceType {rtype!r}")
    out.append(f'<{rtype} xmlns="{NS}">')
    _children(resource, rtype, out, path + rtype, skip=("resourceType",))
    out.append(f"</{rtype}>")


def _children(obj: dict, type_name: str, out: list, path: str, skip=()) -> None:
    table = TABLE[type_name]
    for key in obj:
        if key in skip or key in table or (key[:1] == "_" and key[1:] in table):
            continue
        raise XmlError(f"{path}: element {key!r} is not in the STU3 definition of {type_name}")
    for name in ORDER[type_name]:
        value = obj.get(name)
        extra = obj.get("_" + name)
        if value is None and extra is None:
            continue
        if name in skip:
            continue
        kind, many = table[name]
        here = f"{path}.{name}"
        if kind in PRIMITIVES:
            if many:
                values = value if value is not None else [None] * len(extra)
                extras = extra if extra is not None else [None] * len(values)
                for v, e in zip(values, extras):
                    _primitive(name, v, e, out, here)
            else:
                _primitive(name, value, extra, out, here)
        elif kind == "xhtml":
            out.append(value)
        elif kind == "Resource":
            for item in (value if many else [value]):
                out.append(f"<{name}>")
                _resource(item, out, here + ".")
                out.append(f"</{name}>")
        else:
            for item in (value if many else [value]):
                _element(name, kind, item, out, here)


def _primitive(name, value, extra, out, path) -> None:
    attrs = ""
    if extra and extra.get("id") is not None:
        attrs += f' id="{_text(extra["id"])}"'
    if value is not None:
        attrs += f' value="{_text(value)}"'
    if extra and extra.get("extension"):
        out.append(f"<{name}{attrs}>")
        for item in extra["extension"]:
            _element("extension", "Extension", item, out, path + ".extension")
        out.append(f"</{name}>")
    else:
        out.append(f"<{name}{attrs}/>")


def _element(name, type_name, obj, out, path) -> None:
    if not isinstance(obj, dict):
        raise XmlError(f"{path}: expected an object for {type_name}, found {type(obj).__name__}")
    attrs, skip = "", ["id"]
    if obj.get("id") is not None:
        attrs += f' id="{_text(obj["id"])}"'
    if type_name == "Extension":
        skip.append("url")
        if obj.get("url") is not None:
            attrs += f' url="{_text(obj["url"])}"'
    out.append(f"<{name}{attrs}>")
    _children(obj, type_name, out, path, skip=skip)
    out.append(f"</{name}>")


# --- reading --------------------------------------------------------------------------------------
_FORBIDDEN = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


def from_xml_bytes(body: bytes) -> dict:
    """FHIR XML -> the JSON form of the resource. Raises XmlError for anything that is not one
    well-formed FHIR resource (DTDs and entities are refused outright)."""
    if _FORBIDDEN.search(body):
        raise XmlError("XML with a DOCTYPE or ENTITY declaration is not accepted")
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise XmlError(f"not well-formed XML: {exc}") from None
    return _read_resource(root)


def _local(element) -> tuple[str, str]:
    tag = element.tag
    if tag[:1] == "{":
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


def _read_resource(element) -> dict:
    ns, rtype = _local(element)
    if ns != NS:
        raise XmlError(f"<{rtype}> is not in the FHIR namespace {NS}")
    out = {"resourceType": rtype}
    if rtype in TABLE:
        _read_children(element, rtype, out)
    return out


def _convert(kind: str, value: str):
    if kind == "bool":
        return {"true": True, "false": False}.get(value, value)
    try:
        if kind == "int":
            return int(value)
        if kind == "dec":
            return float(value) if any(c in value for c in ".eE") else int(value)
    except ValueError:
        return value
    return value


def _read_children(element, type_name: str, out: dict) -> None:
    table = TABLE.get(type_name, {})
    for child in element:
        ns, name = _local(child)
        if ns != NS:
            if ns == XHTML_NS and name == "div":
                out["div"] = ElementTree.tostring(child, encoding="unicode", short_empty_elements=False)
                continue
            raise XmlError(f"<{name}> is not in the FHIR namespace")
        kind, many = table.get(name, ("unknown", False))
        if kind in PRIMITIVES or (kind == "unknown" and "value" in child.attrib and not len(child)):
            value = _convert(kind, child.attrib.get("value")) if "value" in child.attrib else None
            extra = {}
            if "id" in child.attrib:
                extra["id"] = child.attrib["id"]
            extensions = [_read_element(e, "Extension") for e in child if _local(e)[1] == "extension"]
            if extensions:
                extra["extension"] = extensions
            _put(out, name, value, many)
            if extra:
                _put(out, "_" + name, extra, many)
        elif kind == "Resource":
            inner = list(child)
            if len(inner) != 1:
                raise XmlError(f"<{name}> must hold exactly one resource")
            _put(out, name, _read_resource(inner[0]), many)
        else:
            _put(out, name, _read_element(child, kind if kind != "unknown" else ""), many)


def _read_element(element, type_name: str) -> dict:
    out = {}
    for attr in ("id", "url"):
        if attr in element.attrib:
            out[attr] = element.attrib[attr]
    if type_name in TABLE:
        _read_children(element, type_name, out)
    elif len(element):
        _read_children(element, "", out)
    return out


def _put(out: dict, name: str, value, many: bool) -> None:
    if many:
        out.setdefault(name, []).append(value)
    elif name in out:
        raise XmlError(f"<{name}> may appear only once")
    else:
        out[name] = value
