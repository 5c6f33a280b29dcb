"""Validators for the administrative persona sections: ``address``, ``telecom``, ``usual_gp``,
``registration``.

The format is documented in docs/personas/format.md. Each validator is registered
in :data:`mockprovider.personas.format.SECTION_VALIDATORS` and fails through the
:class:`~mockprovider.personas.format.Checker`, so an error names the file, the JSON path and
the reason. The ``record`` section's checks live beside its builders, one clinical area a module,
in :mod:`mockprovider.record`.
"""
from __future__ import annotations

import re

from .format import DATE_RE, SDS_RE, SECTION_VALIDATORS, Checker

POSTCODE_RE = re.compile(r"^[A-Z0-9 ]{2,10}\Z")

TELECOM_SYSTEMS = ("phone", "email", "fax", "url", "sms", "other")
TELECOM_USES = ("home", "work", "temp", "old", "mobile")
REGISTRATION_TYPES = {
    # CareConnect-RegistrationType-1
    "R": "Regular", "T": "Temporary", "E": "Emergency", "IN": "Immediately necessary", "P": "Private",
    "O": "Other",
}

def validate_address(c: Checker, value, path, persona_dir=None):
    c.obj(value, path, ("line", "postcode"), ("city", "district", "use"))
    for i, line in enumerate(c.array(value["line"], f"{path}.line")):
        c.string(line, f"{path}.line[{i}]")
    for name in ("city", "district"):
        if name in value:
            c.string(value[name], f"{path}.{name}")
    c.string(value["postcode"], f"{path}.postcode", POSTCODE_RE)
    if "use" in value:
        c.string(value["use"], f"{path}.use", choices=("home", "work", "temp", "old"))


def validate_telecom(c: Checker, value, path, persona_dir=None):
    for i, item in enumerate(c.array(value, path)):
        p = f"{path}[{i}]"
        c.obj(item, p, ("system", "value"), ("use",))
        c.string(item["system"], f"{p}.system", choices=TELECOM_SYSTEMS)
        c.string(item["value"], f"{p}.value")
        if "use" in item:
            c.string(item["use"], f"{p}.use", choices=TELECOM_USES)


def validate_usual_gp(c: Checker, value, path, persona_dir=None):
    c.obj(value, path, ("sds_user_id", "name"), ("gender", "gmc", "gmp", "role"))
    c.string(value["sds_user_id"], f"{path}.sds_user_id", SDS_RE)
    name = c.obj(value["name"], f"{path}.name", ("family",), ("given", "prefix"))
    c.string(name["family"], f"{path}.name.family")
    for part in ("given", "prefix"):
        if part in name:
            for i, word in enumerate(c.array(name[part], f"{path}.name.{part}")):
                c.string(word, f"{path}.name.{part}[{i}]")
    if "gender" in value:
        c.string(value["gender"], f"{path}.gender", choices=("male", "female", "other", "unknown"))
    for ident in ("gmc", "gmp"):
        if ident in value:
            c.string(value[ident], f"{path}.{ident}", SDS_RE)
    if "role" in value:
        c.string(value["role"], f"{path}.role", re.compile(r"^[A-Z0-9]{2,10}\|\S.*\Z"))


def validate_registration(c: Checker, value, path, persona_dir=None):
    c.obj(value, path, ("date",), ("type",))
    c.string(value["date"], f"{path}.date", DATE_RE)
    if "type" in value:
        c.string(value["type"], f"{path}.type", choices=tuple(REGISTRATION_TYPES))


SECTION_VALIDATORS.update({
    "address": validate_address,
    "telecom": validate_telecom,
    "usual_gp": validate_usual_gp,
    "registration": validate_registration,
})
