"""Imports point one way: http -> interactions -> fhir/domain -> spec, errors, config.

Only http/ and app.py may import Flask; fhir.resources and faker stay off the serving path.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "mockprovider"

# layer -> packages of mockprovider it must never import
FORBIDDEN = {
    "interactions": {"http", "app", "cli", "server"},
    "fhir": {"http", "interactions", "app", "cli", "server"},
    "domain": {"http", "interactions", "fhir", "app", "cli", "server"},
    "errors.py": {"http", "interactions", "fhir", "domain", "app", "cli", "server"},
    "spec.py": {"http", "interactions", "fhir", "domain", "app", "cli", "server", "errors", "config"},
    "config.py": {"http", "interactions", "fhir", "domain", "app", "cli", "server"},
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
    """Absolute dotted name inside mockprovider (or the external module name)."""
    if level == 0:
        return module
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)[:-level]
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


def test_serving_path_does_not_import_heavy_validators():
    import subprocess
    import sys
    code = ("import sys, mockprovider.app as a; a.create_app(); "
            "bad = [m for m in ('fhir.resources', 'faker', 'hypothesis') if m in sys.modules]; "
            "print(','.join(bad)); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"serving path imports {result.stdout.strip()} {result.stderr[-500:]}"
