#!/usr/bin/env python3
"""Regenerate ``mockprovider/fhir/stu3_elements.json``: the STU3 element order and types the XML
serialiser needs, derived once from fhir.resources (its STU3 models follow the STU3
StructureDefinitions: elements in definition order, choice types expanded in order).

    .venv/bin/python tools/fhir_xml_table.py

The table maps every STU3 resource, data type and backbone element to ``[[element, kind, many],
...]`` in XML order, where ``kind`` is ``bool`` / ``int`` / ``dec`` / ``str`` / ``xhtml`` for a
primitive, ``Resource`` for a nested resource (Bundle.entry.resource, Parameters.parameter.resource,
contained) or the name of another entry of the table; ``many`` is 1 for a repeating element.
The serving path reads only the JSON file, never fhir.resources.
"""
from __future__ import annotations

import importlib
import json
import pkgutil
import re
import sys
from pathlib import Path

import fhir.resources.STU3 as stu3
from fhir.resources.STU3 import get_fhir_model_class

OUT = Path(__file__).resolve().parent.parent / "mockprovider" / "fhir" / "stu3_elements.json"


def kind_of(annotation) -> tuple[str, bool]:
    text = str(annotation)
    many = "List[" in text
    m = re.search(r"abc\.(\w+)Type\b", text)
    if m:
        return m.group(1), many
    if "Xhtml" in text:
        return "xhtml", many
    if "bool" in text:
        return "bool", many
    if "Decimal" in text:
        return "dec", many
    if re.search(r"\bint\b", text):
        return "int", many
    return "str", many


def main() -> int:
    roots = []
    for info in pkgutil.iter_modules(stu3.__path__):
        module = importlib.import_module(f"fhir.resources.STU3.{info.name}")
        for name, obj in vars(module).items():
            if isinstance(obj, type) and obj.__module__ == module.__name__ and hasattr(obj, "elements_sequence"):
                roots.append(name)
    table, todo = {}, sorted(set(roots))
    while todo:
        name = todo.pop()
        if name in table or name == "Resource" and name in table:
            continue
        try:
            cls = get_fhir_model_class(name)
        except Exception:
            continue
        rows = []
        by_alias = {(f.alias or n): f for n, f in cls.model_fields.items()}
        for element in cls.elements_sequence():
            field = cls.model_fields.get(element) or by_alias[element]
            kind, many = kind_of(field.annotation)
            rows.append([element, kind, 1 if many else 0])
            if kind not in ("bool", "int", "dec", "str", "xhtml", "Resource") and kind not in table:
                todo.append(kind)
        table[name] = rows
    OUT.write_text(json.dumps(dict(sorted(table.items())), separators=(",", ":")) + "\n")
    print(f"{OUT}: {len(table)} types, {OUT.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
