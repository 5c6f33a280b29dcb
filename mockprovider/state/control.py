"""Control state: run-time flags, fault rules, run-time personas and the request journal, shared by
every worker.

One small interface, :class:`ControlStore`; two backends: :class:`SqliteControlStore` (the
default), keeping two SQLite files in a state folder that the server makes before it forks its
workers, so every gunicorn worker of one server sees the same state; and
mockprovider.state.control_redis.RedisControlStore (``MOCKPROVIDER_STATE_URL=redis://...``), so
several servers behind a load balancer share one state. ``mockprovider.app.open_store`` picks one.

Reading is cheap: each thread caches flags and fault rules and re-reads them only when the change
counter (mockprovider.state.change_counter: 8 bytes of shared memory every writer bumps after its
commit) has moved: a memory read, where SQLite's ``PRAGMA data_version`` cost a read transaction
and its lock calls on every request. The journal is not in SQLite
at all: it is a JSON-lines file beside it (mockprovider.state.journal_file), one append per
request, so journal writes never invalidate that cache and cost a write call, not a transaction.
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import sqlite3
import tempfile
import threading
import time
from typing import NamedTuple, Protocol

from ..config import RUNTIME_FLAGS, SettingsError, check_flag_value
from .faults import choose
from .change_counter import ChangeCounter
from .journal_file import FileJournal


class Flags(dict):
    """The live run-time flags; read as ``flags.validation`` or ``flags["validation"]``."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class ControlView(NamedTuple):
    """What one request reads, once: the live flags, the fault rules (oldest first) and the version
    of the run-time persona layer. Shared per process: read them, never change them."""
    flags: Flags
    rules: list
    personas_version: int = 0


class PersonaLayer(NamedTuple):
    """The run-time persona layer as one consistent read (see :class:`ControlStore`).

    ``entries``: NHS number -> the persona's JSON text (str, or UTF-8 bytes), or None when the number was deleted
    (hides a folder persona too). ``folder_generation``: 0 = the personas folder as loaded at
    start-up; every ``reload_personas`` makes it larger (each worker then re-reads the folder)."""
    version: int
    folder_generation: int
    entries: dict


class ControlStore(Protocol):
    """What the rest of the product may ask of the control state (one backend: SQLite below;
    another, e.g. Redis for several containers, implements these and nothing else).

    Run-time personas (``/_control/personas``) are a *layer* over the personas folder, kept here so
    every worker (and every replica sharing the store) sees a change at once. The store keeps
    only text and counters; parsing, validation and the merged cast are
    :class:`mockprovider.personas.cast.Cast`'s job, in each process:

    - ``personas_version()``: a whole number that grows on every change to the layer (put,
      delete, reload, reset) and never goes back. ``current().personas_version`` carries the same
      number, so the hot path compares one int per request and re-reads nothing while it is
      unchanged.
    - ``persona_layer()``: a :class:`PersonaLayer` (version, folder generation, entries), read in
      one consistent snapshot.
    - ``put_persona(nhs, text)`` / ``delete_persona(nhs)``: set the entry to the persona's JSON
      text / to None (a deletion, which also hides a folder persona); bump the version; return it.
    - ``reload_personas()``: add one to the folder generation; bump the version; return it.
    - ``reset()`` also empties the layer and sets the folder generation back to 0 (the start-up
      cast), bumping the version.
    - ``describe()``: a short text for the start-up log line, e.g. ``sqlite:/path`` or
      ``redis://host:6379/0``.
    """

    def current(self) -> ControlView: ...                       # every request: must be cheap
    def flags(self) -> Flags: ...
    def update_flags(self, changes: dict) -> Flags: ...
    def fault_rules(self) -> list[dict]: ...
    def add_fault(self, rule: dict) -> dict: ...                # an already-checked rule with its id
    def delete_fault(self, rule_id: str) -> bool: ...
    def clear_faults(self) -> int: ...
    def take_faults(self, candidates: list[dict]) -> list[dict]: ...  # atomic use of ``times``
    def record(self, entry: dict) -> object: ...               # returns a token for finish()
    def finish(self, token, fields: dict) -> None: ...         # how the answer went out (total_ms, ...)
    def journal(self, limit: int | None = None) -> list[dict]: ...
    def clear_journal(self) -> None: ...
    def reset(self) -> None: ...
    def snapshot(self) -> dict: ...
    def personas_version(self) -> int: ...                     # cheap, like current()
    def persona_layer(self) -> PersonaLayer: ...
    def put_persona(self, nhs_number: str, text: str) -> int: ...
    def delete_persona(self, nhs_number: str) -> int: ...
    def reload_personas(self) -> int: ...
    def describe(self) -> str: ...
    def status(self) -> dict: ...                               # /_control/health: backend, ok|degraded


class SqliteControlStore:
    """The default backend: SQLite files in a private folder, safe across forked workers."""

    backend = "sqlite"

    def __init__(self, defaults: dict, state_dir: str = "", journal_size: int = 500, replica: str = ""):
        self.defaults = dict(defaults)
        self.replica = replica or socket.gethostname()
        if not state_dir:
            state_dir = tempfile.mkdtemp(prefix="mockprovider-state-")
            remove_at_exit(state_dir)
        self.state_dir = state_dir
        os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
        self.journal_size = journal_size
        self._local = threading.local()
        self._pid = None
        self._conn("control").executescript(
                """
                CREATE TABLE IF NOT EXISTS flags (name TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS faults (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL,
                rule TEXT NOT NULL, remaining INTEGER);
                CREATE TABLE IF NOT EXISTS personas (nhs_number TEXT PRIMARY KEY, persona TEXT);
                CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
                INSERT OR IGNORE INTO meta (name, value) VALUES ('personas_version', 0);
                INSERT OR IGNORE INTO meta (name, value) VALUES ('folder_generation', 0);
            """
        )
        self._journal = FileJournal(self.state_dir, journal_size)
        self._changes = ChangeCounter(os.path.join(self.state_dir, "control.changes"))

    # --- connections (one per process and thread; opened after fork) ---------------------------------
    def _conn(self, name: str) -> sqlite3.Connection:
        local = self._local
        if self._pid != os.getpid():  # forked: never share a connection with the parent
            self._local = local = threading.local()
            self._pid = os.getpid()
        conn = getattr(local, name, None)
        if conn is None:
            # cached_statements=0: a cached statement keeps its last bound values, and a run-time
            # persona's text is megabytes: every request thread that once stored one would keep a
            # copy for good (statements run only when the state changes; preparing costs µs).
            conn = sqlite3.connect(os.path.join(self.state_dir, name + ".sqlite3"), timeout=10,
                                   isolation_level=None, check_same_thread=False, cached_statements=0)
            # synchronous=OFF first: switching a new file to WAL under the default FULL costs
            # several fsyncs (10-40 ms a file, twice per start-up) for state that is private
            # and temporary anyway.
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("PRAGMA journal_mode=WAL")
            setattr(local, name, conn)
            setattr(local, name + "_version", None)
        return conn

    class _Txn:
        def __init__(self, conn, committed):
            self.conn = conn
            self.committed = committed

        def __enter__(self):
            self.conn.execute("BEGIN IMMEDIATE")
            return self.conn

        def __exit__(self, kind, value, tb):
            self.conn.execute("ROLLBACK" if kind else "COMMIT")
            if not kind:
                self.committed()

    def _control(self):
        """A write transaction on the control state; every thread of every worker re-reads the
        state after it commits (the change counter moves after the commit, never before)."""
        return self._Txn(self._conn("control"), self._changes.bump)

    def _cached(self):
        """(flags, rules) for this process, re-read only when another connection changed them."""
        conn = self._conn("control")
        local = self._local
        version = self._changes.value()      # read before the state: a later change moves it again
        if getattr(local, "control_version", None) != version or getattr(local, "cache", None) is None:
            stored = {name: json.loads(value) for name, value in conn.execute("SELECT name, value FROM flags")}
            flags = Flags(self.defaults)
            flags.update({k: v for k, v in stored.items() if k in RUNTIME_FLAGS})
            rules = [
                dict(json.loads(rule), remaining=remaining)
                for rule, remaining in conn.execute("SELECT rule, remaining FROM faults ORDER BY seq")
            ]
            personas_version = conn.execute(
                "SELECT value FROM meta WHERE name = 'personas_version'").fetchone()[0]
            local.cache = (flags, rules, personas_version)
            local.control_version = version
        return local.cache

    def current(self) -> ControlView:
        """One cached read: a shared-memory compare unless a writer committed a change since."""
        return ControlView(*self._cached())

    def describe(self) -> str:
        return f"sqlite:{self.state_dir}"

    # --- flags ---------------------------------------------------------------------------------------------
    def flags(self) -> Flags:
        return self._cached()[0]

    def update_flags(self, changes: dict) -> Flags:
        if not isinstance(changes, dict):
            raise SettingsError("flags must be a JSON object")
        checked = {name: check_flag_value(name, value) for name, value in changes.items()}
        with self._control() as db:
            db.executemany(
                "INSERT INTO flags (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                [(name, json.dumps(value)) for name, value in checked.items()],
            )
        self._local.cache = None
        return self.flags()

    # --- fault rules -------------------------------------------------------------------------------------
    def fault_rules(self) -> list[dict]:
        return [dict(rule) for rule in self._cached()[1]]

    def add_fault(self, rule: dict) -> dict:
        """Store an already-validated rule (it carries its own ``id``)."""
        with self._control() as db:
            db.execute("INSERT INTO faults (id, rule, remaining) VALUES (?, ?, ?)",
                       (rule["id"], json.dumps(rule), rule.get("times")))
        self._local.cache = None
        return dict(rule, remaining=rule.get("times"))

    def delete_fault(self, rule_id: str) -> bool:
        with self._control() as db:
            deleted = db.execute("DELETE FROM faults WHERE id = ?", (rule_id,)).rowcount
        self._local.cache = None
        return bool(deleted)

    def clear_faults(self) -> int:
        with self._control() as db:
            deleted = db.execute("DELETE FROM faults").rowcount
        self._local.cache = None
        return deleted

    def take_faults(self, candidates: list[dict]) -> list[dict]:
        """The rules this request gets, from its matching rules (oldest first, see
        mockprovider.state.faults.choose), each charged one use; a rule whose ``times`` is spent
        is removed. Atomic across workers: two requests never share a rule's last use."""
        if not candidates:
            return []
        if all(rule.get("remaining") is None for rule in candidates):
            return choose(candidates)      # no counted rule: nothing to write
        with self._control() as db:
            def live(rule):
                row = db.execute("SELECT remaining FROM faults WHERE id = ?", (rule["id"],)).fetchone()
                return row is not None and (row[0] is None or row[0] > 0)

            taken = []
            for rule in choose(candidates, live):
                if rule.get("remaining") is None:
                    taken.append(rule)
                    continue
                left = db.execute("UPDATE faults SET remaining = remaining - 1 WHERE id = ? "
                                  "RETURNING remaining", (rule["id"],)).fetchone()[0]
                if left <= 0:
                    db.execute("DELETE FROM faults WHERE id = ?", (rule["id"],))
                taken.append(dict(rule, remaining=left))
        self._local.cache = None
        return taken

    # --- journal -----------------------------------------------------------------------------------------
    def record(self, entry: dict) -> str:
        entry.setdefault("replica", self.replica)
        return self._journal.record(entry)

    def finish(self, token: str, fields: dict) -> None:
        """Add how the answer went out (``total_ms``, ``bytes_sent``, ``complete``) to the entry
        :meth:`record` returned ``token`` for."""
        self._journal.finish(token, fields)

    def journal(self, limit: int | None = None) -> list[dict]:
        """Newest first, at most ``journal_size`` entries."""
        limit = self.journal_size if limit is None else max(0, min(limit, self.journal_size))
        return self._journal.entries(limit)

    def clear_journal(self) -> None:
        self._journal.clear()

    # --- reset ---------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to start-up defaults: flags as configured, no fault rules, the start-up cast (no
        run-time personas, the folder as loaded at start-up), an empty journal."""
        with self._control() as db:
            db.execute("DELETE FROM flags")
            db.execute("DELETE FROM faults")
            db.execute("DELETE FROM personas")
            db.execute("UPDATE meta SET value = 0 WHERE name = 'folder_generation'")
            self._bump(db)
        self._local.cache = None
        self.clear_journal()

    # --- run-time personas (a layer over the personas folder; see the ControlStore docstring) ------------
    @staticmethod
    def _bump(db) -> int:
        return db.execute("UPDATE meta SET value = value + 1 WHERE name = 'personas_version' "
                          "RETURNING value").fetchone()[0]

    def personas_version(self) -> int:
        return self._cached()[2]

    def persona_layer(self) -> PersonaLayer:
        with self._control() as db:      # one transaction: version and entries agree
            meta = dict(db.execute("SELECT name, value FROM meta"))
            # as UTF-8 bytes: what the persona keeps (a str of a large non-ASCII text is twice the size)
            entries = dict(db.execute("SELECT nhs_number, CAST(persona AS BLOB) FROM personas"))
        self._shrink(db)
        return PersonaLayer(meta["personas_version"], meta["folder_generation"], entries)

    @staticmethod
    def _shrink(db) -> None:
        """A persona row can be megabytes: let this connection (one per thread) drop the pages it
        cached for it instead of keeping up to its cache size in every request thread."""
        db.execute("PRAGMA shrink_memory")

    def _set_persona(self, nhs_number: str, text: str | None) -> int:
        with self._control() as db:
            db.execute("INSERT INTO personas (nhs_number, persona) VALUES (?, ?) "
                       "ON CONFLICT(nhs_number) DO UPDATE SET persona = excluded.persona", (nhs_number, text))
            version = self._bump(db)
        self._shrink(db)
        self._local.cache = None
        return version

    def put_persona(self, nhs_number: str, text: str) -> int:
        return self._set_persona(nhs_number, text)

    def delete_persona(self, nhs_number: str) -> int:
        return self._set_persona(nhs_number, None)

    def reload_personas(self) -> int:
        with self._control() as db:
            db.execute("UPDATE meta SET value = value + 1 WHERE name = 'folder_generation'")
            version = self._bump(db)
        self._local.cache = None
        return version

    def snapshot(self) -> dict:
        return {"flags": dict(self.flags()), "faults": self.fault_rules()}

    def status(self) -> dict:
        return {"backend": "sqlite", "status": "ok", "replica": self.replica}


def remove_at_exit(folder: str) -> None:
    """Remove a private state folder when the process that made it exits (not its forked workers)."""
    owner = os.getpid()

    def remove():
        if os.getpid() == owner:
            shutil.rmtree(folder, ignore_errors=True)
    atexit.register(remove)


_SECOND = (-1, "")       # the last whole second formatted: strftime once a second, not per request


def now_iso() -> str:
    """Wall-clock time for the journal only (never in a FHIR body), to the millisecond."""
    global _SECOND
    ms = int(time.time() * 1000)
    second, text = _SECOND
    if ms // 1000 != second:
        second = ms // 1000
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _SECOND = (second, text)         # one tuple: a thread reads an old pair or a new one
    return f"{text}.{ms % 1000:03d}Z"

