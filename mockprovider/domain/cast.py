"""What each persona exercises and the rules it reaches: ``cast.toml`` beside the persona files.

One structured source for two readers: the cast table of ``personas/README.md`` (generated from it
between markers; ``python -m mockprovider.domain.cast --write`` rewrites the table, and
tests/unit/test_builtin_cast.py fails when they disagree) and ``GET /_control/personas/{nhs}``,
whose ``exercises`` and ``rules`` the console shows. A personas folder without ``cast.toml`` (a
generated one, a team's own) simply has no entries. The file is TOML, not JSON, so the persona
loader (every ``*.json`` of the folder) never takes it for a patient.

Name and tags are not written in it: they come from the persona file (tags are derived from data).
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass

FILE = "cast.toml"
START = "<!-- cast table: generated from cast.toml by `python -m mockprovider.domain.cast --write`; edit cast.toml -->"
END = "<!-- end of cast table -->"
HEADER = ("| NHS number | Name | Tags | What it exercises | Error row / rule it reaches |\n"
          "|---|---|---|---|---|")


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


def replace_table(readme: str, table: str) -> str:
    """``readme`` with the text between the markers replaced by ``table``."""
    head, found, rest = readme.partition(START)
    if not found or END not in rest:
        raise CastError(f"the README has no cast table markers ({START} ... {END})")
    return f"{head}{START}\n{table}\n{END}{rest.partition(END)[2]}"


def current_table(readme: str) -> str:
    """The table as the README has it now (between the markers)."""
    if START not in readme or END not in readme:
        raise CastError("the README has no cast table markers")
    return readme.partition(START)[2].partition(END)[0].strip("\n")


def main(argv=None) -> int:
    import argparse

    from ..config import Settings
    from .personas import PersonaStore

    parser = argparse.ArgumentParser(prog="python -m mockprovider.domain.cast",
                                     description="Print (or --write) the personas README cast table from cast.toml")
    parser.add_argument("directory", nargs="?", default=Settings().personas)
    parser.add_argument("--write", action="store_true", help="rewrite README.md in the folder")
    args = parser.parse_args(argv)
    table = readme_table(PersonaStore.load(args.directory), load(args.directory))
    if not args.write:
        print(table)
        return 0
    readme_path = os.path.join(args.directory, "README.md")
    with open(readme_path, encoding="utf-8") as handle:
        readme = handle.read()
    updated = replace_table(readme, table)
    if updated != readme:
        tmp = readme_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(updated)
        os.replace(tmp, readme_path)     # atomic
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
