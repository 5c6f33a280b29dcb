"""Imports point one way: http -> interactions -> fhir -> record -> personas -> process -> spec, errors
(lookup_errors), config.

``record/`` (one clinical area a module) sits beside fhir/: fhir/ assembles the Bundle from it, so
record/ never imports fhir/ (or anything above). Where ``domain/`` sat, below record/ and fhir/, sit
three packages: ``personas/`` (the persona format, contract, loader, run-time layer, cast, generate,
import, documents, ids), ``state/`` (the control store and its backends, the journal, the change
counter, fault rules) and ``registry/`` (the practices registry, the PDS facts). They import one way,
``state`` -> ``registry`` -> ``personas``: ``personas`` never imports ``state`` nor ``registry``, and
``state`` never imports ``personas`` (the run-time layer reads the store through the object it is
given). ``process/`` (the forked-child step, giving memory back) is below them all and imports nothing
of mockprovider. No module imports another in a circle, not even through an import inside a
function. Only http/ and app.py may import Flask; fhir.resources and faker stay off the serving path.
"""
import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "mockprovider"
BENCH = REPO / "bench"

# what sits above personas, state and registry
ABOVE = {"http", "interactions", "fhir", "record", "app", "cli", "server"}
# layer -> packages of mockprovider it must never import
FORBIDDEN = {
    "http": {"cli", "server"},
    "interactions": {"http", "state", "app", "cli", "server"},
    "fhir": {"http", "interactions", "state", "app", "cli", "server"},
    "record": {"http", "interactions", "fhir", "state", "registry", "process", "app", "cli", "server"},
    "personas": ABOVE | {"state", "registry"},
    "registry": ABOVE | {"state", "process"},
    "state": ABOVE | {"personas", "process"},
    "process": ABOVE | {"personas", "state", "registry", "errors", "config", "spec"},
    "errors.py": ABOVE | {"personas", "state", "registry", "process"},
    "lookup_errors.py": ABOVE | {"personas", "state", "registry", "process"},
    "spec.py": ABOVE | {"personas", "state", "registry", "process", "errors", "config"},
    "config.py": ABOVE | {"personas", "state", "registry", "process"},
}
FLASK_ALLOWED = {"http", "app.py"}


def imported_modules(path: Path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, 0
        elif isinstance(node, ast.ImportFrom):
            yield node.module or "", node.level


def resolve(path: Path, module: str, level: int) -> str:
    """Absolute dotted name inside the repository's packages (or the external module name)."""
    if level == 0:
        return module
    parts = list(path.relative_to(REPO).with_suffix("").parts)[:-level]
    return ".".join(parts + ([module] if module else []))


def top_layer(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0]


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_layering(path):
    layer = top_layer(path)
    for module, level in imported_modules(path):
        name = resolve(path, module, level)
        if name.split(".")[0] == "flask":
            assert layer in FLASK_ALLOWED, f"{path.name} imports Flask outside the HTTP layer"
        if name.startswith("mockprovider."):
            target = name.split(".")[1]
            target_key = target + ".py" if (PACKAGE / (target + ".py")).exists() else target
            forbidden = FORBIDDEN.get(layer, set())
            assert target not in forbidden and target_key not in forbidden, \
                f"{path.relative_to(PACKAGE)} ({layer}) must not import mockprovider.{target}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(sources=SOURCES) -> dict:
    """module -> the modules of ``sources`` it imports (``from . import x`` counts as importing x),
    wherever the import statement is (inside a function too)."""
    modules = {module_name(p): p for p in sources}
    graph = {}
    for name, path in modules.items():
        edges = set()
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = resolve(path, node.module or "", node.level)
                if path.name == "__init__.py" and node.level:
                    base = resolve(path.parent / "x.py", node.module or "", node.level)
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            else:
                continue
            edges.update(t for t in targets if t in modules and t != name)
        graph[name] = edges
    return graph


def test_every_package_is_in_the_layer_table():
    packages = {p.relative_to(PACKAGE).parts[0] for p in SOURCES if len(p.relative_to(PACKAGE).parts) > 1}
    assert packages <= set(FORBIDDEN), f"add {packages - set(FORBIDDEN)} to FORBIDDEN"


def test_record_is_a_package_of_clinical_areas():
    """record/ holds one module per clinical area, each naming the 1.6.2 page it implements."""
    areas = ("problems", "allergies", "medications", "uncategorised", "immunisations", "investigations",
             "referrals", "diary", "consultations", "documents", "lists")
    for area in areas:
        path = PACKAGE / "record" / f"{area}.py"
        doc = ast.get_docstring(ast.parse(path.read_text()))
        assert doc and "pages/accessrecord_structured/" in doc, f"record/{area}.py must name its page"


def find_cycle(graph: dict, inside: set) -> list | None:
    """One import cycle among the modules ``inside`` (a list that starts and ends with the same
    module), or None."""
    def cycle_from(start):
        stack = [(start, [start])]
        seen = set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph[node] & inside:
                if nxt == start:
                    return trail + [start]
                if nxt not in trail and nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, trail + [nxt]))
        return None

    for module in sorted(inside):
        cycle = cycle_from(module)
        if cycle:
            return cycle
    return None


@pytest.mark.parametrize("package", ["personas", "state", "registry", "process", "record", "fhir", "interactions",
                                     "http", ""])
def test_no_import_cycles(package):
    """No circle inside each package, nor across mockprovider as a whole ("")."""
    graph = import_graph()
    prefix = f"mockprovider.{package}" if package else "mockprovider"
    inside = {m for m in graph if m.startswith(prefix)}
    cycle = find_cycle(graph, inside)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_import_cycles_in_bench():
    """bench/ (make bench): the runner over its scenario modules, with no circle among them."""
    graph = import_graph(sorted(BENCH.rglob("*.py")))
    assert "bench.run" in graph and "bench.scenarios.stores" in graph
    cycle = find_cycle(graph, set(graph))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
    assert not any("bench.run" in edges for edges in graph.values()), "nothing imports the runner"


def test_the_circle_check_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph, set(graph)) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}, {"a", "b"}) is None


def test_every_package_says_what_lives_there_and_what_it_may_import():
    for init in [*PACKAGE.rglob("__init__.py"), *BENCH.rglob("__init__.py")]:
        if "builtin_personas" in init.parts:
            continue
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert doc and "import" in doc.lower(), \
            f"{init.relative_to(REPO)} needs a docstring: what lives here, and what it may import"


def test_serving_path_does_not_import_heavy_validators():
    import subprocess
    import sys
    code = ("import sys, mockprovider.app as a; a.create_app(); "
            "bad = [m for m in ('fhir.resources', 'faker', 'hypothesis') if m in sys.modules]; "
            "print(','.join(bad)); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"serving path imports {result.stdout.strip()} {result.stderr[-500:]}"
