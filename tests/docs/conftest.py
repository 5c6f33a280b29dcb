"""Helpers for the documentation tests: the repository's Markdown, its code blocks and links."""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PERSONAS_README = ROOT / "personas" / "README.md"


def markdown_files() -> list[Path]:
    return [README, PERSONAS_README, *sorted(DOCS.rglob("*.md"))]


def load_tool(name: str):
    """A module of tools/ (not a package), loaded by path."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[a-z]*)\n(?P<body>.*?)^(?P=indent)```", re.M | re.S)


def code_blocks(text: str, langs=("sh", "bash", "")) -> list[str]:
    """The bodies of fenced code blocks (indented ones too, dedented) in the given languages."""
    out = []
    for m in FENCE.finditer(text):
        if m.group("lang") in langs:
            indent = len(m.group("indent"))
            out.append("\n".join(line[indent:] for line in m.group("body").splitlines()))
    return out


def without_code(text: str) -> str:
    return FENCE.sub("", text)


def github_slug(heading: str) -> str:
    """The anchor GitHub (and MkDocs' toc, for these headings) gives a heading."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = without_code(path.read_text(encoding="utf-8"))
    return {github_slug(m.group(1)) for m in re.finditer(r"^#{1,6} +(.+?) *$", text, re.M)}


LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def links(path: Path) -> list[str]:
    return [a or b for a, b in LINK.findall(without_code(path.read_text(encoding="utf-8")))]
