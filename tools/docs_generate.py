#!/usr/bin/env python3
"""Regenerate every documentation table that mirrors code (``make docs-generate``), or check them.

A page of ``docs/`` holds a generated part between two markers::

    <!-- generated: settings (tools/docs_generate.py: edit the source, then make docs-generate) -->
    ...
    <!-- end generated: settings -->

and this script rewrites what is between them from the code: the configuration reference from
``mockprovider/config.py``'s Settings (and the ``serve`` options that set them); the fault kinds,
fields and match fields from the source of ``GET /_control/catalogue``
(``mockprovider/http/control_details.describe``, ``mockprovider/state/faults.py``); the Spine error
table from ``mockprovider/errors.py``; the interaction table from ``mockprovider/http/routes.py``;
a copy-paste request for every interaction from ``mockprovider/example.py``; the control client's
methods from ``mockprovider/control_client.py``; the CLI reference from the click commands; the
benchmark table from ``bench/results.json`` (``bench/report.py``). It also rewrites
``personas/README.md``'s cast and clinical variants tables from ``personas/cast.toml``
(``mockprovider.personas.cast``), which the site shows from there.

Everything is read from code, so a setting, flag, fault kind, error code, interaction, control
method, CLI command or persona added anywhere appears on the next run without editing this
script. Each generated part appears on exactly one page. ``--check`` writes nothing and exits 1
naming every page that differs (tests/docs/test_generated.py runs the same check).
"""
from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
from dataclasses import fields
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(ROOT))

MARKER = re.compile(r"(<!-- generated: (?P<name>[a-z0-9_-]+)[^>]*-->\n)(?P<body>.*?)(<!-- end generated: (?P=name) -->)",
                    re.DOTALL)
NOTE = "tools/docs_generate.py: edit the source, then make docs-generate"


def cell(text) -> str:
    """A Markdown table cell: pipes escaped, one line."""
    return " ".join(str(text).split()).replace("|", "\\|")


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def code(text) -> str:
    return f"`{text}`" if text not in ("", None) else ""


# --- configuration: mockprovider/config.py ------------------------------------------------------------------
def _default(f) -> str:
    from mockprovider.config import BUILT_IN_PERSONAS, MB
    value = f.default
    if f.name == "personas" and value == BUILT_IN_PERSONAS:
        return "the built-in `personas/`"
    if isinstance(value, bool):
        return code(str(value).lower())
    if value == "":
        return "(empty)"
    if isinstance(value, int) and f.name.endswith("_bytes") and value >= MB and value % MB == 0:
        return f"{code(value)} ({value // MB} MiB)"
    return code(value)


def _serve_options() -> dict[str, str]:
    """Environment variable -> the ``mockprovider serve`` option that sets the same thing."""
    from mockprovider.cli import serve
    out = {}
    for param in serve.params:
        if getattr(param, "envvar", None):
            names = "/".join(param.opts + param.secondary_opts)
            out[param.envvar] = names
    return out


def settings_table() -> str:
    from mockprovider.config import Settings
    options = _serve_options()
    rows = []
    for f in fields(Settings):
        if f.metadata.get("runtime"):
            continue
        env = "MOCKPROVIDER_" + f.name.upper()
        choices = f.metadata.get("choices")
        meaning = f.metadata.get("doc", "") + (f" ({', '.join(choices)})" if choices else "")
        rows.append([code(f.name), code(env), code(options[env]) if env in options else "", _default(f), meaning])
    return table(["Setting", "Environment variable", "`serve` option", "Default", "Meaning"], rows)


def flags_table() -> str:
    from mockprovider.config import Settings
    from mockprovider.http.control_details import describe
    settings = Settings()
    by_name = {f.name: f for f in fields(Settings)}
    rows = []
    for flag in describe(settings, settings.runtime_defaults())["flags"]:
        values = ", ".join(code(c) for c in flag["choices"]) if flag["choices"] else \
            {"boolean": "`true`, `false`", "integer": "a whole number ≥ 0"}.get(flag["type"], "text")
        rows.append([code(flag["name"]), code("MOCKPROVIDER_" + flag["name"].upper()), _default(by_name[flag["name"]]),
                     values, flag["group"], flag["doc"]])
    return table(["Flag", "Start-up value from", "Default", "Values", "Group", "Meaning"], rows)


# --- faults: the source of GET /_control/catalogue ------------------------------------------------------------
def _catalogue() -> dict:
    from mockprovider.config import Settings
    from mockprovider.http.control_details import describe
    settings = Settings()
    return describe(settings, settings.runtime_defaults())


def _required(value) -> str:
    return {True: "yes", False: "no"}.get(value, str(value))


def fault_kinds_table() -> str:
    faults = _catalogue()["faults"]
    rows = [[code(k["kind"]), k["doc"], ", ".join(code(f["name"]) for f in k["fields"]) or "—"] for k in faults["kinds"]]
    return table(["Kind", "What the client gets", "Its own fields"], rows)


def fault_fields_table() -> str:
    faults = _catalogue()["faults"]
    rows = [[code(f["name"]), "every kind", _required(f["required"]), f["doc"]] for f in faults["common_fields"]]
    for kind in faults["kinds"]:
        for f in kind["fields"]:
            rows.append([code(f["name"]), code(kind["kind"]), _required(f["required"]), f["doc"]])
    rows.append([code("match"), "every kind", "no", "an object of match fields (below); every field given must "
                 "equal the request's; no match: every FHIR request"])
    return table(["Field", "Kind", "Required", "Meaning"], rows) + \
        f"\n\nWaits (`ms`, `duration_ms`) are at most {faults['max_ms']:,} ms each."


def match_fields_table() -> str:
    faults = _catalogue()["faults"]
    rows = [[code(f["name"]), f["doc"], ", ".join(code(c) for c in f["choices"]) if f["choices"] else ""]
            for f in faults["match_fields"]]
    return table(["Match field", "Matches", "Values"], rows)


def proxy_statuses_table() -> str:
    faults = _catalogue()["faults"]
    from mockprovider.errors import PROXY_STATUSES
    rows = [[code(p["status"]), PROXY_STATUSES[p["status"]][0], p["display"]] for p in faults["proxy_statuses"]]
    return table(["`status`", "issue.code", "Display"], rows)


# --- errors: mockprovider/errors.py ----------------------------------------------------------------------------
def spine_errors_table() -> str:
    from mockprovider.errors import TABLE
    rows = [[code(c.code), c.status, code(c.issue_type), c.display,
             c.guidance_display if c.guidance_display != c.display else "(the same)"] for c in TABLE.values()]
    return table(["Spine code", "HTTP", "issue.code", "Display (default: the Spine CodeSystem)",
                  "Display with `error_display=guidance`"], rows)


# --- interactions: mockprovider/http/routes.py --------------------------------------------------------------
def interactions_table() -> str:
    from mockprovider import example
    from mockprovider.http import routes
    rows = []
    for i in routes.INTERACTIONS:
        kinds = sorted(i.roots - {"all"}) or ["single root only"]
        path = i.path.pattern.removeprefix("^").removesuffix(r"\Z").replace("\\", "")
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", path)
        rows.append([code(i.name), f"`{i.method} {path}`", ", ".join(kinds) + " and the single root"
                     if kinds != ["single root only"] else "the single root",
                     "<br>".join(code(x) for x in i.ids), ", ".join(code(r) for r in i.reasons),
                     ", ".join(code(s) for s in i.scopes), code(f"mockprovider example {example.command_name(i.name)}")])
    return table(["Interaction", "Request", "Roots", "`Ssp-InteractionID`", "`reason_for_request`",
                  "`requested_scope`", "Ready request"], rows)


def _docs_request(name: str):
    from mockprovider import example
    from mockprovider.config import Settings
    from mockprovider.personas.store import PersonaStore
    entry = example.BY_NAME[name]
    settings = Settings()
    store = PersonaStore.load(settings.personas) if entry.argument else None
    subject = example.subject_for(entry, None, store, settings)
    return entry, example.build(entry, subject, settings=settings, trace_id=example.DOCS_TRACE_ID,
                                now=example.DOCS_IAT)


def example_block(name: str) -> str:
    """A copy-paste request for one interaction (the same as ``mockprovider example``, with a fixed
    trace id and a token issued in 2100, so that it keeps working when copied from the page)."""
    from mockprovider import example
    entry, request = _docs_request(name)
    command = example.command_name(name) + (f" {example.DEFAULT_PERSONA}" if entry.argument else "")
    return "\n".join([
        "```sh", request.curl(), "```", "",
        f"Its JWT asks for `reason_for_request` `{request.claims['reason_for_request']}` and `requested_scope` "
        f"`{request.claims['requested_scope']}`; the other claims are those of "
        "[every request](index.md#every-request). A fresh request (new `Ssp-TraceID`, a token issued now): "
        f"`.venv/bin/mockprovider example {command}`, or add `--run` to make it."])


def jwt_claims() -> str:
    """The claims of the docs' migrate example, decoded."""
    _, request = _docs_request("migrate_structured")
    return "```json\n" + json.dumps(request.claims, indent=2) + "\n```"


# --- the control client: mockprovider/control_client.py -------------------------------------------------------
def control_client_table() -> str:
    """Each public method of ControlClient, the control call(s) it makes (found by calling it on a
    recorder with sample arguments) and its docstring."""
    from mockprovider.control_client import ControlClient
    samples = {"nhs_number": "9690937286", "rule_id": "RULE_ID", "limit": 5, "changes": {"validation": "lenient"}}
    placeholders = {"9690937286": "{nhs_number}", "RULE_ID": "{rule_id}", "limit=5": "limit={limit}"}
    seen = []

    class Recorder(ControlClient):
        def call(self, method, path, payload=None, *, data=None, content_type="application/json"):
            for sample, shown in placeholders.items():
                path = path.replace(sample, shown)
            if (method, path) not in seen:
                seen.append((method, path))

    rows = []
    for name, method in inspect.getmembers(ControlClient, inspect.isfunction):
        if name.startswith("_") or name == "call":
            continue
        signature = inspect.signature(method)
        params = [p for p in signature.parameters.values()
                  if p.name != "self" and p.kind is not inspect.Parameter.KEYWORD_ONLY]
        required = [samples.get(p.name, {}) for p in params if p.default is inspect.Parameter.empty]
        optional = [samples.get(p.name, {}) for p in params if p.default is not inspect.Parameter.empty]
        seen.clear()
        getattr(Recorder(), name)(*required)
        if optional:
            getattr(Recorder(), name)(*required, *optional)
        shown = []
        for p in signature.parameters.values():
            if p.name == "self":
                continue
            if p.kind is inspect.Parameter.KEYWORD_ONLY and "*" not in shown:
                shown.append("*")
            shown.append(p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}")
        rows.append([f"`{name}({', '.join(shown)})`", " or ".join(f"`{m} /_control{p}`" for m, p in seen),
                     inspect.getdoc(method) or ""])
    return table(["Method", "Control call", "What it does"], rows) + \
        "\n\n`call(method, path, payload=None)` makes any other control call (e.g. `call(\"GET\", \"/catalogue\")`);" \
        " an error answer raises `ControlError` (its `status` and JSON `body`)."


# --- the CLI: mockprovider/cli.py ---------------------------------------------------------------------------
def cli_reference() -> str:
    import click

    from mockprovider.cli import cli
    parts = []

    def walk(command, ctx_parent, path):
        ctx = click.Context(command, info_name=path[-1], parent=ctx_parent, terminal_width=100, max_content_width=100)
        if len(path) > 1:
            parts.append(f"### {' '.join(path)}\n\n```text\n{command.get_help(ctx).rstrip()}\n```\n")
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                walk(command.get_command(ctx, name), ctx, [*path, name])

    walk(cli, None, ["mockprovider"])
    return "\n".join(parts).rstrip()


# --- logs: mockprovider/http/access_log.py --------------------------------------------------------------
def startup_line() -> str:
    """The start-up line ``make run`` prints: the default settings and the built-in cast."""
    from mockprovider.config import Settings
    from mockprovider.personas.store import PersonaStore
    from mockprovider.http import access_log
    settings = Settings()
    count = len(PersonaStore.load(settings.personas))
    fields_ = access_log.startup_fields(settings.with_changes(personas="…/personas"), count, "built-in",
                                        "sqlite:/tmp/mockprovider-state-…", "http")
    return "```\n" + access_log.startup_text(fields_) + "\n```"


# --- benchmarks: bench/results.json ---------------------------------------------------------------------------
def bench_table() -> str:
    from bench.report import table as bench_table_text
    results = json.loads((ROOT / "bench" / "results.json").read_text())
    m = results["machine"]
    head = (f"Latest run: {results['date']}, commit `{results['git_commit'][:12]}`, {m['nproc']} x {m['cpu_model']}, "
            f"{m['memory_gb']} GB, Python {m['python']}, {m['workers']} gunicorn gthread workers, {m['wrk']}, "
            f"{results['method']['duration_s']} s per wrk run; the run took {results['elapsed_s']:.0f} s "
            "(`bench/results.json` has every figure).")
    return head + "\n\n" + bench_table_text(results)


GENERATORS = {
    "settings": settings_table,
    "flags": flags_table,
    "fault-kinds": fault_kinds_table,
    "fault-fields": fault_fields_table,
    "match-fields": match_fields_table,
    "proxy-statuses": proxy_statuses_table,
    "spine-errors": spine_errors_table,
    "interactions": interactions_table,
    "jwt-claims": jwt_claims,
    "control-client": control_client_table,
    "cli": cli_reference,
    "startup-line": startup_line,
    "bench": bench_table,
}


def generators() -> dict:
    """Every generated part by name: the fixed ones, and one ``example-<interaction>`` each."""
    from mockprovider import example
    out = dict(GENERATORS)
    for entry in example.EXAMPLES:
        out[f"example-{example.command_name(entry.interaction)}"] = \
            (lambda name: lambda: example_block(name))(entry.interaction)
    return out


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def regenerate(text: str, made: dict, cache: dict) -> str:
    def fill(match):
        name = match.group("name")
        if name not in made:
            raise SystemExit(f"unknown generated part {name!r}; known: {', '.join(sorted(made))}")
        if name not in cache:
            cache[name] = made[name]()
        return f"<!-- generated: {name} ({NOTE}) -->\n{cache[name]}\n<!-- end generated: {name} -->"
    return MARKER.sub(fill, text)


def expected() -> dict[Path, str]:
    """Every page that holds a generated part, as it should read now."""
    made, cache, out, uses = generators(), {}, {}, {}
    for page in pages():
        text = page.read_text(encoding="utf-8")
        for match in MARKER.finditer(text):
            uses.setdefault(match.group("name"), []).append(page.relative_to(ROOT))
        if MARKER.search(text):
            out[page] = regenerate(text, made, cache)
    twice = {name: where for name, where in uses.items() if len(where) > 1}
    if twice:
        raise SystemExit(f"a generated part appears on more than one page: {twice}")
    missing = sorted(set(made) - set(uses))
    if missing:
        raise SystemExit(f"generated parts on no page: {', '.join(missing)} (add their markers to a page)")
    from mockprovider.config import Settings
    from mockprovider.personas import cast
    personas = Path(Settings().personas)
    out[personas / "README.md"] = cast.readme_tables(personas)
    return out


def stale(wanted: dict[Path, str]) -> list[Path]:
    """The pages whose text on disk is not what ``wanted`` says."""
    return [page for page, text in wanted.items() if page.read_text(encoding="utf-8") != text]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a page differs")
    args = parser.parse_args(argv)
    wanted = expected()
    differ = stale(wanted)
    for page in differ:
        if not args.check:
            tmp = page.with_suffix(".md.tmp")
            tmp.write_text(wanted[page], encoding="utf-8")
            tmp.replace(page)
        print(f"{'differs' if args.check else 'rewrote'}: {page.relative_to(ROOT)}")
    if args.check and differ:
        print("run `make docs-generate` and commit the pages", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
