"""Every mistake of one persona, each with its JSON path (for ``PUT /_control/personas/{nhs}``).

The persona validator (:func:`mockprovider.domain.personas.validate`) stops at the first mistake,
which is what loading a folder wants (never a partial cast, and fast). A person putting one
persona over HTTP wants the whole list at once, so this module runs the same validator again and
again on a working copy, taking away what was wrong each time:

- the bad value's key (or array item) is removed; a top-level required field gets a harmless
  placeholder instead;
- an error that only *follows* from an earlier removal (the removed key "is required" now, a
  parent that became empty, a reference to a removed item's key, a declared tag the trimmed data
  no longer shows) is not reported; the enclosing array item is removed quietly instead;
- paths are reported in the coordinates of the body as sent (array indexes are mapped back past
  removed items).

The result is what the validator would report one by one if the sender fixed each mistake in
turn, without the echoes.
"""
from __future__ import annotations

import copy
import re
import time

from .persona_file import TOP_REQUIRED, validate
from .persona_format import PersonaError, derive_tags

MAX_ERRORS = 100
TIME_BUDGET_SECONDS = 3.0     # a huge record with many mistakes: report what was found by then
_SEGMENT = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")
PLACEHOLDERS = {"nhs_number": "9000000009", "name": {"family": "Placeholder"}, "gender": "unknown",
                "birth_date": "1900-01-01"}


def _segments(path: str):
    if not path.startswith("$"):
        return None
    out, pos = [], 1
    for m in _SEGMENT.finditer(path, 1):
        if m.start() != pos:
            return None
        out.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    return out if pos == len(path) else None


def _render(segments) -> str:
    return "$" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in segments)


class _Work:
    """A deep copy of the body, with each array's original indexes, so paths map back."""

    def __init__(self, data):
        self.data = copy.deepcopy(data)
        self.indexes: dict[int, list[int]] = {}
        self._index(self.data)

    def _index(self, value):
        if isinstance(value, list):
            self.indexes[id(value)] = list(range(len(value)))
            for item in value:
                self._index(item)
        elif isinstance(value, dict):
            for item in value.values():
                self._index(item)

    def existing(self, segments):
        """The longest prefix of ``segments`` present in the copy: [(container, key), ...]."""
        chain, node = [], self.data
        for seg in segments:
            if isinstance(seg, int) and isinstance(node, list) and 0 <= seg < len(node):
                chain.append((node, seg))
                node = node[seg]
            elif isinstance(seg, str) and isinstance(node, dict) and seg in node:
                chain.append((node, seg))
                node = node[seg]
            else:
                break
        return chain

    def original(self, segments):
        """A path in the copy's coordinates -> the same place in the body as sent."""
        out, node = [], self.data
        for seg in segments:
            if isinstance(seg, int) and isinstance(node, list) and 0 <= seg < len(node):
                out.append(self.indexes[id(node)][seg])
                node = node[seg]
            elif isinstance(seg, str) and isinstance(node, dict) and seg in node:
                out.append(seg)
                node = node[seg]
            else:
                out.append(seg)
                node = None
        return out

    def remove(self, container, key):
        if isinstance(container, list):
            del container[key]
            del self.indexes[id(container)][key]
        elif container is self.data and key in TOP_REQUIRED:
            container[key] = copy.deepcopy(PLACEHOLDERS[key])
        else:
            del container[key]


def _is_within(path: str, other: str) -> bool:
    """True when ``other`` is ``path`` or lies inside it."""
    return other == path or other.startswith(path + ".") or other.startswith(path + "[")


def every_mistake(data, file, persona_dir) -> list[PersonaError]:
    """Every mistake of a persona body (an empty list when it is valid)."""
    try:
        validate(data, file, persona_dir)
        return []
    except PersonaError as first:
        if not isinstance(data, dict):
            return [first]
        try:
            return _every_mistake(data, file, persona_dir)
        except Exception:       # never worse than the loader: its first mistake, at least
            return [first]


def _every_mistake(data, file, persona_dir) -> list[PersonaError]:
    try:
        declared_ok = set(derive_tags(data, persona_dir))
    except Exception:
        declared_ok = set()
    work = _Work(data)
    found: list[PersonaError] = []
    removed: list[str] = []            # original paths taken away so far
    removed_keys: set[str] = set()     # "key" values of removed items (references to them echo)
    deadline = time.monotonic() + TIME_BUDGET_SECONDS
    for _ in range(MAX_ERRORS * 4):
        if time.monotonic() > deadline:
            found.append(PersonaError(file, "$", f"checking stopped after {TIME_BUDGET_SECONDS:g} s; "
                                                 "fix these and send it again for any more"))
            break
        try:
            validate(work.data, file, persona_dir)
            break
        except PersonaError as error:
            segments = _segments(error.path)
            if segments is None or not segments:
                if not found or error.path != "$":
                    found.append(error)
                break
            place = _render(work.original(segments))
            echo = any(_is_within(place, gone) for gone in removed) or \
                any(f"'{key}'" in error.reason for key in removed_keys)
            if segments[0] == "tags" and found:
                tags = data.get("tags")
                index = segments[1] if len(segments) > 1 else None
                if isinstance(tags, list) and isinstance(index, int) and index < len(tags) \
                        and isinstance(tags[index], str) and tags[index] in declared_ok:
                    echo = True
            chain = work.existing(segments)
            if echo:
                # quietly take away the innermost array item holding the echo (or the value itself)
                items = [link for link in chain if isinstance(link[0], list)]
                target = items[-1] if items else (chain[-1] if chain else None)
            else:
                found.append(PersonaError(error.file, place, error.reason))
                target = chain[-1] if chain else None
            if target is None:
                if segments[0] in TOP_REQUIRED and segments[0] not in work.data:
                    work.data[segments[0]] = copy.deepcopy(PLACEHOLDERS[segments[0]])
                    removed.append(_render(segments[:1]))
                    continue
                break
            container, key = target
            index = chain.index(target)
            gone = _render(work.original([link[1] for link in chain[:index + 1]]))
            value = container[key]
            if isinstance(value, dict) and isinstance(value.get("key"), str):
                removed_keys.add(value["key"])
            work.remove(container, key)
            removed.append(gone)
            if len(found) >= MAX_ERRORS:
                break
    return found or [PersonaError(file, "$", "is not a valid persona")]
