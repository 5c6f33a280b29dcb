"""Every `mockprovider …` command the docs show parses with the real CLI (its commands, options,
choices and argument types), and every copy-paste request on the interaction pages succeeds
against a live server exactly as printed."""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import warnings
from contextlib import contextmanager

import click
import pytest

from mockprovider.cli import cli

from .conftest import DOCS, ROOT, code_blocks, markdown_files, without_code

# A command: at the start of a line (after any VAR=value assignments) or of a $( ... ).
COMMAND = re.compile(r"(?:^|\$\()\s*(?:[A-Z_]+=\S+\s+)*(?:\.venv/bin/)?mockprovider\s+(?P<args>[^|>;&)\"\n]*)", re.M)
# Words a page uses for "put yours here" in running text; a line with one is a synopsis, not a command.
PLACEHOLDER = re.compile(r"^[A-Z][A-Z_|]*$|[…<>\[\]]|^\.\.\.$")


def commands(text: str) -> list[str]:
    return [m.group("args").strip() for m in COMMAND.finditer(text) if m.group("args").strip()]


def from_blocks(path) -> list[str]:
    found = []
    for block in code_blocks(path.read_text(encoding="utf-8"), langs=("sh", "bash")):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0]
            found += commands(line)
    return found


def from_text(path) -> list[str]:
    spans = re.findall(r"`([^`]+)`", without_code(path.read_text(encoding="utf-8")))
    return [c for span in spans for c in commands(span)]


@contextmanager
def paths_as_text():
    """Files and folders a command names need not exist here: parse them as text."""
    swapped = []

    def walk(command):
        for param in command.params:
            if isinstance(param.type, (click.File, click.Path)):
                swapped.append((param, param.type))
                param.type = click.STRING
        for sub in getattr(command, "commands", {}).values():
            walk(sub)
    walk(cli)
    try:
        yield
    finally:
        for param, kind in swapped:
            param.type = kind


def parse(args: list[str]) -> click.Command:
    """Resolve and parse a command line as click would run it, without running it. A group named
    alone (``mockprovider control`` in running text) is a mention of the group, and resolves."""
    command, ctx, rest = cli, None, list(args)
    while isinstance(command, click.Group):
        if not rest:
            return command
        ctx = command.make_context(command.name or "mockprovider", rest, parent=ctx)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)     # click 8.2 still needs protected_args
            rest = [*ctx.protected_args, *ctx.args]
        if not rest:
            return command
        name, sub, rest = command.resolve_command(ctx, rest)
        command = sub
    command.make_context(command.name, rest, parent=ctx)
    return command


def all_lines():
    """(page, command line, whether it is a command to run): code blocks hold commands to run;
    running text names commands, maybe without their required options (still checked, but a
    missing required option or argument is allowed there)."""
    found = []
    for path in markdown_files():
        where = str(path.relative_to(ROOT))
        found += [(where, line, True) for line in from_blocks(path)]
        found += [(where, line, False) for line in from_text(path)
                  if not any(PLACEHOLDER.search(word) for word in shlex.split(line))]
    return found


LINES = all_lines()


def test_the_docs_show_many_commands():
    assert sum(runnable for _, _, runnable in LINES) > 40
    assert any(line.startswith("example migrate") for _, line, _ in LINES)


@pytest.mark.parametrize("where,line,runnable", LINES, ids=[f"{w}: {line[:60]}" for w, line, _ in LINES])
def test_every_command_in_the_docs_parses(where, line, runnable):
    args = shlex.split(line)
    with paths_as_text():
        try:
            parse(args)
        except click.exceptions.Exit:
            pass
        except click.MissingParameter:
            if runnable:
                raise
        except click.ClickException as exc:
            pytest.fail(f"{where}: `mockprovider {line}`: {exc.format_message()}")


def test_a_wrong_command_is_caught():
    with paths_as_text(), pytest.raises(click.ClickException):
        parse(shlex.split("control fault add --kind explode"))
    with paths_as_text(), pytest.raises(click.ClickException):
        parse(shlex.split("example migrate-everything"))


# --- the copy-paste requests of the interaction pages, run as printed ----------------------------------------
def page_requests() -> list[tuple[str, str]]:
    """The generated request to copy of each interaction page (a page's other examples, such as the
    per-area queries of Retrieve a structured record that share a preamble, have their own test)."""
    found = []
    for page in sorted((DOCS / "interactions").glob("*.md")):
        text = page.read_text(encoding="utf-8")
        for m in re.finditer(r"<!-- generated: example-[a-z-]+.*?-->(.*?)<!-- end generated", text, re.S):
            for block in code_blocks(m.group(1), langs=("sh",)):
                if block.startswith("curl "):
                    found.append((page.name, block))
    return found


@pytest.fixture(scope="module")
def server():
    from tests.live.conftest import LiveServer
    live = LiveServer(workers=1)
    yield live
    live.stop()


REQUESTS = page_requests()


def test_every_interaction_page_has_its_request():
    """Each interaction has its generated request to copy on a page (a page may show more requests,
    e.g. one per clinical area of Retrieve a structured record: every one runs below)."""
    from mockprovider import example
    generated = {m.group(1) for page in (DOCS / "interactions").glob("*.md")
                 for m in re.finditer(r"<!-- generated: example-([a-z-]+)", page.read_text(encoding="utf-8"))}
    assert generated == {example.command_name(e.interaction) for e in example.EXAMPLES}
    assert len(REQUESTS) == len(example.EXAMPLES)


@pytest.mark.live
@pytest.mark.parametrize("page,command", REQUESTS, ids=[f"{p}-{n}" for n, (p, _) in enumerate(REQUESTS)])
def test_every_request_to_copy_succeeds_as_printed(server, page, command):
    assert shutil.which("curl")
    script = command.replace("http://127.0.0.1:8080", server.url) + " -o /dev/null -w '%{http_code}'"
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout == "200", (page, out.stdout, out.stderr)
