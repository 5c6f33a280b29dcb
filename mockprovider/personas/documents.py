"""Persona documents: the ``documents`` section, the document-id index, and document content.

A document is either a small real file shipped with the personas (``file``, relative to the
personas folder) or a large one generated on the fly from ``generate: {size, seed}``. Generated
content is deterministic: the same (size, seed) always gives the same bytes, so the declared
``sha256`` never changes and nothing huge is committed.

Content is produced in chunks of :data:`CHUNK` bytes (a multiple of 3, so the base64 of each
chunk can be concatenated as is) and never held whole in memory.

Generated content (version 1 of the generator; changing it changes every declared sha256):
- a pool of :data:`POOL` blocks per seed, block k = SHAKE-256("mockprovider-document/v1/<seed>/<k>")
  mapped onto printable text (letters, digits, spaces, newlines), so documents are ``text/plain``;
- chunk i = a 27-byte line ``--- chunk 000000000123 ---\\n`` + block (i mod POOL) from byte 27 on;
- the last chunk is that, cut to the remaining length.
The base64 of every block is computed once per seed and cached, so serving a large document is a
copy of cached bytes per chunk (fast), with a small bounded cache (a few seeds).
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from . import ids
from .format import CODE_RE, DATE_OR_DATETIME_RE, LOAD_HOOKS, ODS_RE, SDS_RE, SECTION_VALIDATORS

CHUNK = 3 * 2 ** 18          # 786,432 bytes: base64 of a chunk is exactly 1 MiB
POOL = 4                     # distinct blocks per seed
_HEADER_LEN = 27             # len("--- chunk 000000000000 ---\n"), a multiple of 3
_HEADER_B64_LEN = _HEADER_LEN // 3 * 4
_PRINTABLE = (b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
              b"          ..,,\n\n")                     # 78 symbols, weighted towards spaces
_TABLE = bytes(_PRINTABLE[i % len(_PRINTABLE)] for i in range(256))
_POOL_CACHE_SEEDS = 3        # seeds whose blocks (raw + base64, ~7 MB each) stay cached

KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
SHA256_RE = re.compile(r"^[0-9a-f]{64}\Z")
CONTENT_TYPE_RE = re.compile(r"^[a-z]+/[A-Za-z0-9.+-]+\Z")
INSTANT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})\Z")

REQUIRED = ("key", "description", "type", "created", "indexed", "author", "contentType")
OPTIONAL = ("title", "confidential", "nopat", "consultation", "problem", "file", "generate",
            "size", "sha256", "version", "stand_in")
# Generated documents are printable text (see the module docstring).
GENERATED_CONTENT_TYPE = "text/plain"


# --- one document ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Document:
    """One persona document, resolved: ids, size and where its bytes come from."""
    nhs_number: str
    key: str
    entry: dict                  # the persona's JSON object for it
    binary_id: str               # ids.document_id(nhs, key): the /Binary/{id} segment
    size: int                    # bytes
    path: str | None             # absolute path of a shipped file, else None
    seed: str | None             # generated documents: the seed, as text

    @property
    def content_type(self) -> str:
        return self.entry["contentType"]

    @property
    def confidential(self) -> bool:
        return bool(self.entry.get("confidential", False))

    @property
    def nopat(self) -> bool:
        return bool(self.entry.get("nopat", False))

    @property
    def version_id(self) -> str:
        return str(self.entry.get("version", 1))

    @property
    def sha256(self) -> str | None:
        return self.entry.get("sha256")

    def chunks(self) -> Iterator[bytes]:
        """The document's bytes, CHUNK bytes at a time (the last chunk may be shorter)."""
        if self.path is not None:
            return _file_chunks(self.path, self.size)
        return generated_chunks(self.seed, self.size)

    def base64_chunks(self) -> Iterator[bytes]:
        """The base64 of the document, in pieces that concatenate to exactly b64encode(bytes)."""
        if self.path is not None:
            return (base64.b64encode(c) for c in _file_chunks(self.path, self.size))
        return generated_base64_chunks(self.seed, self.size)

    def read(self) -> bytes:
        """The whole document (tests and small documents only)."""
        return b"".join(self.chunks())


def base64_length(size: int) -> int:
    return (size + 2) // 3 * 4


def _file_chunks(path: str, size: int) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        remaining = size
        while remaining > 0:
            chunk = fh.read(min(CHUNK, remaining))
            if not chunk:   # the file shrank after start-up: fail loudly rather than send short
                raise OSError(f"{path} is shorter than its declared {size} bytes")
            remaining -= len(chunk)
            yield chunk


# --- generated content -------------------------------------------------------------------------------
def _block(seed: str, k: int, length: int = CHUNK) -> bytes:
    digest = hashlib.shake_256(f"mockprovider-document/v1/{seed}/{k}".encode()).digest(length)
    return digest.translate(_TABLE)


def _header(i: int) -> bytes:
    return b"--- chunk %012d ---\n" % i


class _Pool:
    """Full blocks of one seed, raw and base64 (without the bytes the header replaces)."""
    __slots__ = ("raw", "b64_tail")

    def __init__(self, seed: str):
        self.raw = [_block(seed, k) for k in range(POOL)]
        self.b64_tail = [base64.b64encode(block)[_HEADER_B64_LEN:] for block in self.raw]


_pools: "OrderedDict[str, _Pool]" = OrderedDict()
_pools_lock = threading.Lock()


def _pool(seed: str) -> _Pool:
    with _pools_lock:
        pool = _pools.get(seed)
        if pool is not None:
            _pools.move_to_end(seed)
            return pool
    pool = _Pool(seed)
    with _pools_lock:
        _pools[seed] = pool
        while len(_pools) > _POOL_CACHE_SEEDS:
            _pools.popitem(last=False)
    return pool


def _last_chunk(seed: str, i: int, length: int) -> bytes:
    # The prefix of SHAKE output does not depend on the length asked for, so a short last chunk
    # is the prefix of the full chunk it cuts.
    return (_header(i) + _block(seed, i % POOL, max(length, _HEADER_LEN))[_HEADER_LEN:])[:length]


def generated_chunks(seed: str, size: int) -> Iterator[bytes]:
    full, rest = divmod(size, CHUNK)
    if full:
        pool = _pool(seed)
        for i in range(full):
            yield _header(i) + pool.raw[i % POOL][_HEADER_LEN:]
    if rest:
        yield _last_chunk(seed, full, rest)


def generated_base64_chunks(seed: str, size: int) -> Iterator[bytes]:
    full, rest = divmod(size, CHUNK)
    if full:
        pool = _pool(seed)
        for i in range(full):
            yield base64.b64encode(_header(i)) + pool.b64_tail[i % POOL]
    if rest:
        yield base64.b64encode(_last_chunk(seed, full, rest))


def sha256_of(chunks) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def generated_sha256(size: int, seed) -> str:
    """What a persona declares as ``sha256`` for ``generate: {size, seed}``."""
    return sha256_of(generated_chunks(str(seed), size))


# A run-time persona's generated document without a sha256 gets one computed (PUT /_control/personas),
# up to this size (larger ones declare it: computing it means generating every byte).
COMPUTE_SHA256_UP_TO = 1 << 30


def fill_generated_sha256(data) -> None:
    """Give every generated document of a persona body that declares no ``sha256`` the one its
    ``generate: {size, seed}`` makes (an HTTP client cannot be asked to run the generator)."""
    documents = data.get("documents") if isinstance(data, dict) else None
    for doc in documents if isinstance(documents, list) else ():
        gen = doc.get("generate") if isinstance(doc, dict) else None
        if not isinstance(gen, dict) or "sha256" in doc:
            continue
        size, seed = gen.get("size"), gen.get("seed")
        if isinstance(size, int) and not isinstance(size, bool) and 0 < size <= COMPUTE_SHA256_UP_TO \
                and isinstance(seed, (str, int)) and not isinstance(seed, bool) and seed != "":
            doc["sha256"] = generated_sha256(size, seed)


# --- the persona section -------------------------------------------------------------------------------
def validate_section(c, value, path, persona_dir) -> None:
    """Check a persona's ``documents`` list (registered in personas.SECTION_VALIDATORS).

    Cheap: a generated document's ``sha256`` is declared, not recomputed (``verify`` does that).
    A shipped file's existence and size, keys used twice and links to the record are rules of the
    persona contract (mockprovider.personas.contract).
    """
    for n, doc in enumerate(c.array(value, path)):
        p = f"{path}[{n}]"
        c.obj(doc, p, REQUIRED, OPTIONAL)
        c.string(doc["key"], f"{p}.key", KEY_RE)
        c.string(doc["description"], f"{p}.description")
        if "title" in doc:
            c.string(doc["title"], f"{p}.title")
        c.string(doc["type"], f"{p}.type", CODE_RE)
        c.string(doc["created"], f"{p}.created", DATE_OR_DATETIME_RE)
        c.string(doc["indexed"], f"{p}.indexed", INSTANT_RE)
        author = c.obj(doc["author"], f"{p}.author", (), ("organization", "practitioner"))
        if len(author) != 1:
            c.fail(f"{p}.author", "must name exactly one of organization (ODS code) or practitioner "
                                  "(the usual GP's sds_user_id)")
        if "organization" in author:
            c.string(author["organization"], f"{p}.author.organization", ODS_RE)
        else:
            c.string(author["practitioner"], f"{p}.author.practitioner", SDS_RE)
        c.string(doc["contentType"], f"{p}.contentType", CONTENT_TYPE_RE)
        for flag in ("confidential", "nopat"):
            if flag in doc:
                c.boolean(doc[flag], f"{p}.{flag}")
        for link in ("consultation", "problem"):
            if link in doc:
                c.string(doc[link], f"{p}.{link}", KEY_RE)
        if "version" in doc:
            c.integer(doc["version"], f"{p}.version", minimum=1)
        if ("file" in doc) == ("generate" in doc):
            c.fail(p, "needs exactly one of file (a shipped file) or generate ({size, seed})")
        if "sha256" in doc:
            c.string(doc["sha256"], f"{p}.sha256", SHA256_RE)
        if "file" in doc:
            _check_file(c, doc, p, persona_dir)
        else:
            _check_generated(c, doc, p)


def _check_file(c, doc, p, persona_dir):
    rel = c.string(doc["file"], f"{p}.file")
    if rel.startswith("/") or ".." in Path(rel).parts:
        c.fail(f"{p}.file", "must be a path inside the personas folder, e.g. files/letter.pdf")
    if "size" in doc:
        c.integer(doc["size"], f"{p}.size", minimum=1)


def _check_generated(c, doc, p):
    gen = c.obj(doc["generate"], f"{p}.generate", ("size", "seed"), ())
    size = c.integer(gen["size"], f"{p}.generate.size", minimum=1)
    seed = gen["seed"]
    if isinstance(seed, bool) or not isinstance(seed, (str, int)) or seed == "":
        c.fail(f"{p}.generate.seed", "must be a non-empty string or a whole number")
    if "size" in doc:
        c.fail(f"{p}.size", "a generated document's size is generate.size")
    if "sha256" not in doc:
        c.fail(f"{p}.sha256", f"is required for a generated document (mockprovider.personas.documents."
                              f"generated_sha256({size}, {seed!r}) gives it)")
    if "stand_in" in doc:
        c.boolean(doc["stand_in"], f"{p}.stand_in")
    if doc["contentType"] != GENERATED_CONTENT_TYPE and doc.get("stand_in") is not True:
        c.fail(f"{p}.contentType", f"a generated document is printable text: use {GENERATED_CONTENT_TYPE} "
                                   "(or stand_in: true, generated bytes standing in for a document of that type)")


def resolve(persona, entry: dict, persona_dir) -> Document:
    nhs = persona.nhs_number
    if "file" in entry:
        path = str(Path(persona_dir) / entry["file"])
        return Document(nhs, entry["key"], entry, ids.document_id(nhs, entry["key"]),
                        os.stat(path).st_size, path, None)
    gen = entry["generate"]
    return Document(nhs, entry["key"], entry, ids.document_id(nhs, entry["key"]), gen["size"], None,
                    str(gen["seed"]))


def verify(document: Document) -> str | None:
    """Recompute a document's sha256; return a reason when it differs from the declared one."""
    if document.sha256 is None:
        return None
    actual = sha256_of(document.chunks())
    if actual != document.sha256:
        return f"declared sha256 {document.sha256} but the content hashes to {actual}"
    return None


# --- the index -------------------------------------------------------------------------------------------
class DocumentIndex:
    """Every document of every persona, by Binary id and by persona (built at load; no file reads)."""

    def __init__(self, store):
        self.by_id: dict[str, tuple] = {}
        self.by_nhs: dict[str, list[Document]] = {}
        # Weak: the store holds its index (store.documents), and a cycle would keep a replaced
        # cast, and a large run-time persona's bytes, alive until the cyclic collector ran.
        self._store = weakref.ref(store)
        self._by_patient_id: dict | None = None
        for persona in store:
            self._add(persona, store.directory)

    def _add(self, persona, directory) -> None:
        if not persona.documents:      # kept at load: no need to parse a dropped persona again
            self.by_nhs[persona.nhs_number] = []
            return
        docs = [resolve(persona, entry, directory) for entry in persona.documents]
        self.by_nhs[persona.nhs_number] = docs
        for doc in docs:
            self.by_id[doc.binary_id] = (persona, doc)

    def with_changes(self, store, changed) -> "DocumentIndex":
        """The index of ``store``, which differs from this index's store only in the personas
        numbered in ``changed`` (put, replaced or deleted at run time): only those are indexed again,
        so a change costs the same with 20 personas as with 10,000 (none is parsed again)."""
        new = DocumentIndex.__new__(DocumentIndex)
        new.by_id, new.by_nhs, new._store, new._by_patient_id = dict(self.by_id), dict(self.by_nhs), \
            weakref.ref(store), None
        for number in changed:
            for doc in new.by_nhs.pop(number, []):
                new.by_id.pop(doc.binary_id, None)
            persona = store.get(number)
            if persona is not None:
                new._add(persona, store.directory)
        return new

    @property
    def by_patient_id(self) -> dict:
        """Patient logical id -> persona, for every persona (the documents search URL's {id});
        built on first use, so start-up stays cheap with many personas."""
        if self._by_patient_id is None:
            self._by_patient_id = {ids.patient_id(p.nhs_number): p for p in self._store() or ()}
        return self._by_patient_id

    def get(self, binary_id: str):
        """(persona, Document) for a Binary id, or None."""
        return self.by_id.get(binary_id)

    def of(self, persona) -> list[Document]:
        return self.by_nhs.get(persona.nhs_number, [])


def findable(persona) -> bool:
    """Whether the documents searches may show this patient: not sensitive (PDS S-flag), not
    deceased, not inactive. A dissented patient is findable (assurance-suite.md P19)."""
    data = persona.head
    return not (data.get("pds") or {}).get("sensitive") and not data.get("deceased") \
        and data.get("active", True) is not False


def build_index(store) -> None:
    store.documents = DocumentIndex(store)


def update_index(old_store, store, changed) -> None:
    """The load hook's incremental form (mockprovider.personas.layer): ``store`` is
    ``old_store`` with the personas numbered in ``changed`` put, replaced or deleted."""
    store.documents = index(old_store).with_changes(store, changed)


build_index.update = update_index


def index(store) -> DocumentIndex:
    """The store's document index (built at load; built here for a store made some other way)."""
    found = getattr(store, "documents", None)
    if found is None:
        build_index(store)
        found = store.documents
    return found


SECTION_VALIDATORS["documents"] = validate_section
LOAD_HOOKS.append(build_index)


if __name__ == "__main__":   # python -m mockprovider.personas.documents SIZE SEED (mockprovider personas sha256)
    import sys
    print(generated_sha256(int(sys.argv[1]), sys.argv[2]))
