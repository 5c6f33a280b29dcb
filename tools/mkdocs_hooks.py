"""MkDocs hooks for the docs site (mkdocs.yml ``hooks:``; no plugin to install).

The pages are also read on GitHub, whose tables need a pipe inside a code span escaped (``\\|``);
Python-Markdown's tables keep a code span's pipes as they are and would show the backslash. So on
table rows, ``\\|`` inside a code span becomes ``|`` before the page is converted.
"""
from __future__ import annotations

import re

_CODE = re.compile(r"`[^`\n]*`")


def unescape_table_code(markdown: str) -> str:
    lines = []
    fenced = False
    for line in markdown.split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        if not fenced and line.lstrip().startswith("|"):
            line = _CODE.sub(lambda m: m.group(0).replace("\\|", "|"), line)
        lines.append(line)
    return "\n".join(lines)


def on_page_markdown(markdown, page, config, files, **kwargs):
    return unescape_table_code(markdown)
