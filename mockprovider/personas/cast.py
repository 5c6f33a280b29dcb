"""What each persona exercises and the rules it reaches: ``cast.toml`` beside the persona files.

One structured source for two readers: the cast table of ``personas/README.md`` (generated from it
between markers; ``python -m mockprovider.personas.cast --write`` rewrites the table, and
tests/unit/test_builtin_cast.py fails when they disagree) and ``GET /_control/personas/{nhs}``,
whose ``exercises`` and ``rules`` the console shows. ``cast.toml``'s ``[[variant]]`` entries (every
clinical variant, the personas that show it, what the Bundle holds) feed the README's "Clinical
variants" table the same way (the docs site shows both tables from the README). A personas folder without ``cast.toml`` (a
generated one, a team's own) simply has no entries. The file is TOML, not JSON, so the persona
loader (every ``*.json`` of the folder) never takes it for a patient.

Name and tags are not written in it: they come from the persona file (tags are derived from data).
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass

FILE = "cast.toml"
START = "<!-- cast table: generated from cast.toml by `python -m mockprovider.personas.cast --write`; edit cast.toml -->"
END = "<!-- end of cast table -->"
HEADER = ("| NHS number | Name | Tags | What it exercises | Error row / rule it reaches |\n"
          "|---|---|---|---|---|")
VARIANTS_START = ("<!-- variants table: generated from cast.toml ([[variant]]) by "
                  "`python -m mockprovider.personas.cast --write`; edit cast.toml -->")
VARIANTS_END = "<!-- end of variants table -->"
VARIANTS_HEADER = "| Variant | Persona | What the Bundle shows |\n|---|---|---|"


class CastError(ValueError):
    """cast.toml is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class CastEntry:
    nhs_number: str
    exercises: str
    rules: tuple[str, ...]


def load(directory) -> dict[str, CastEntry]:
    """The entries of ``<directory>/cast.toml`` by NHS number ({} when the folder has none)."""
    path = os.path.join(os.fspath(directory), FILE)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise CastError(f"{path}: {exc}") from None
    entries = {}
    for i, raw in enumerate(data.get("persona", [])):
        where = f"{path}: persona[{i}]"
        number, exercises, rules = raw.get("nhs_number"), raw.get("exercises"), raw.get("rules")
        if not isinstance(number, str) or not number.isdigit() or len(number) != 10:
            raise CastError(f"{where}.nhs_number must be a 10-digit string")
        if number in entries:
            raise CastError(f"{where}.nhs_number {number} is listed twice")
        if not isinstance(exercises, str) or not exercises.strip():
            raise CastError(f"{where}.exercises must be non-empty text")
        if not isinstance(rules, list) or not rules or not all(isinstance(r, str) and r.strip() for r in rules):
            raise CastError(f"{where}.rules must be a non-empty list of text")
        entries[number] = CastEntry(number, exercises, tuple(rules))
    return entries


@dataclass(frozen=True)
class Variant:
    variant: str
    personas: tuple[str, ...]     # "<NHS number>" or "<NHS number> (what to ask for)"
    shows: str


def load_variants(directory) -> list[Variant]:
    """The ``[[variant]]`` entries of ``<directory>/cast.toml``, in file order ([] when none)."""
    path = os.path.join(os.fspath(directory), FILE)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        return []
    except tomllib.TOMLDecodeError as exc:
        raise CastError(f"{path}: {exc}") from None
    variants = []
    for i, raw in enumerate(data.get("variant", [])):
        where = f"{path}: variant[{i}]"
        unknown = sorted(set(raw) - {"variant", "personas", "shows"})
        if unknown:
            raise CastError(f"{where} has unknown field(s) {', '.join(unknown)}")
        name, personas, shows = raw.get("variant"), raw.get("personas"), raw.get("shows")
        if not isinstance(name, str) or not name.strip():
            raise CastError(f"{where}.variant must be non-empty text")
        if not isinstance(shows, str) or not shows.strip():
            raise CastError(f"{where}.shows must be non-empty text")
        if not isinstance(personas, list) or not personas or not all(
                isinstance(p, str) and p[:10].isdigit() and len(p.split(" ", 1)[0]) == 10 for p in personas):
            raise CastError(f"{where}.personas must be a non-empty list of NHS numbers "
                            "(each optionally followed by what to ask for, e.g. \"9690990039 (conf/N)\")")
        variants.append(Variant(name, tuple(personas), shows))
    return variants


def variants_table(store, variants: list[Variant]) -> str:
    """The README's clinical variants table; every persona it names must be in ``store``."""
    rows = [VARIANTS_HEADER]
    for variant in variants:
        for persona in variant.personas:
            if store.get(persona[:10]) is None:
                raise CastError(f"{FILE}: variant {variant.variant!r} names {persona[:10]}, which is no persona")
        rows.append(f"| {variant.variant} | {', '.join(variant.personas)} | {variant.shows} |")
    return "\n".join(rows)


def readme_table(store, entries: dict[str, CastEntry]) -> str:
    """The README's cast table: one row per persona of ``store`` that has an entry, by NHS number."""
    rows = [HEADER]
    for number in sorted(entries):
        persona = store.get(number)
        if persona is None:
            continue
        entry = entries[number]
        tags = ", ".join(f"`{t}`" for t in persona.tags)
        rows.append(f"| {number} | {persona.name} | {tags} | {entry.exercises} | {'; '.join(entry.rules)} |")
    return "\n".join(rows)


def replace_table(readme: str, table: str, start: str = START, end: str = END) -> str:
    """``readme`` with the text between the markers replaced by ``table``."""
    head, found, rest = readme.partition(start)
    if not found or end not in rest:
        raise CastError(f"the README has no table markers ({start} ... {end})")
    return f"{head}{start}\n{table}\n{end}{rest.partition(end)[2]}"


def current_table(readme: str, start: str = START, end: str = END) -> str:
    """The table as the README has it now (between the markers)."""
    if start not in readme or end not in readme:
        raise CastError(f"the README has no table markers ({start} ... {end})")
    return readme.partition(start)[2].partition(end)[0].strip("\n")


def readme_tables(directory, store=None) -> str:
    """``<directory>/README.md`` as it should be: both tables generated from ``cast.toml``."""
    if store is None:
        from .store import PersonaStore
        store = PersonaStore.load(directory)
    with open(os.path.join(os.fspath(directory), "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    readme = replace_table(readme, readme_table(store, load(directory)))
    return replace_table(readme, variants_table(store, load_variants(directory)), VARIANTS_START, VARIANTS_END)


def write_readme(directory, store=None) -> bool:
    """Rewrite ``<directory>/README.md``'s generated tables (atomically); whether it changed."""
    readme_path = os.path.join(os.fspath(directory), "README.md")
    with open(readme_path, encoding="utf-8") as handle:
        readme = handle.read()
    updated = readme_tables(directory, store)
    if updated == readme:
        return False
    tmp = readme_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(updated)
    os.replace(tmp, readme_path)     # atomic
    return True


def main(argv=None) -> int:
    import argparse

    from ..config import Settings
    from .store import PersonaStore

    parser = argparse.ArgumentParser(prog="python -m mockprovider.personas.cast",
                                     description="Print (or --write) the personas README's cast and clinical "
                                                 "variants tables from cast.toml")
    parser.add_argument("directory", nargs="?", default=Settings().personas)
    parser.add_argument("--write", action="store_true", help="rewrite the tables in README.md in the folder")
    args = parser.parse_args(argv)
    store = PersonaStore.load(args.directory)
    try:
        if not args.write:
            print(readme_table(store, load(args.directory)))
            print()
            print(variants_table(store, load_variants(args.directory)))
            return 0
        write_readme(args.directory, store)
    except CastError as exc:
        print(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
