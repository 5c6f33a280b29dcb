"""Control state on Redis: flags, fault rules and the journal shared by several replicas.

``MOCKPROVIDER_STATE_URL=redis://host:port/db`` selects this backend (mockprovider.state.control
has the interface and the SQLite default). Several mock servers behind a load balancer then behave
as one: a flag flip or a new fault rule made through any replica is seen by the next request on
every replica; a rule's ``times`` is consumed atomically in Redis (a Lua script), so ``times: 5``
fires exactly 5 times in total; the journal is one bounded sorted set that every replica writes
to, each row naming its ``replica``.

The hot path pays no Redis round trip for control state that has not changed. Each worker process
keeps a local copy of flags and rules and a subscriber thread on the ``<prefix>changed`` channel.
Every change bumps ``<prefix>version`` and publishes it in the same Lua script; each subscriber
reloads its copy (one MULTI: version, flags, rules) and then acknowledges with ``INCR
<prefix>ack:<version>``. The control call that made the change returns only when every subscriber
PUBLISH reached has acknowledged (at most ACK_WAIT_S), so "seen by the next request on every
replica" holds without a per-request version check. A request writes its journal row (one
pipelined ZADD + trim) and, only when a counted rule matches, runs the take script.

Redis down:
- at start-up: :class:`StateStoreError` (one clear line from ``mockprovider serve``);
- at run time: FHIR requests are answered from the last copy. Rules without ``times`` still
  apply; a counted rule cannot be charged, so it does not fire (it can never fire more than its
  ``times``). Journal rows wait in a per-process buffer (at most ``journal_size`` rows, the oldest
  dropped first and counted) and are written, with their original time, as soon as the subscriber
  thread reconnects. Control calls that need Redis answer 503. ``/_control/health`` says
  ``degraded``. Flags and rules live in Redis itself: run it with ``appendonly yes`` (as
  docker-compose.yml does) and a restart loses nothing.
"""
from __future__ import annotations

import collections
import itertools
import json
import logging
import os
import socket
import tempfile
import threading
import time
from urllib.parse import urlsplit, urlunsplit

from ..config import RUNTIME_FLAGS, SettingsError, redact_url, check_flag_value, check_state_url
from .control import ControlView, Flags, PersonaLayer, remove_at_exit
from .faults import choose

log = logging.getLogger("mockprovider")

PREFIX = "mockprovider:"
ACK_WAIT_S = 2.0          # longest a control write waits for every replica to reload
RETRY_S = 0.5             # after a failure, how long the hot path leaves Redis alone
CONNECT_TIMEOUT_S = 0.5
COMMAND_TIMEOUT_S = 2.0


_PROCESS_LOCK = threading.Lock()


class StateStoreError(SettingsError):
    """The state store named by MOCKPROVIDER_STATE_URL cannot be used (message: one line)."""


class StoreUnavailable(RuntimeError):
    """Redis did not answer a control call; the control API turns this into a 503."""


# --- Lua: every write is one script, so it is atomic and bumps the version with the data --------
# KEYS: flags, faults, remaining, order, seq, version, channel, journal, personas,
# personas_version, folder_generation (every script gets the same list).
_BUMP = """
local v = redis.call('INCR', KEYS[6])
local n = redis.call('PUBLISH', KEYS[7], v)
"""

_SET_FLAGS = """
for i = 1, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
""" + _BUMP + "return {v, n}"

_ADD_FAULT = """
local seq = redis.call('INCR', KEYS[5])
redis.call('ZADD', KEYS[4], seq, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[3]) end
""" + _BUMP + "return {v, n}"

_DELETE_FAULT = """
if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then return {0, 0, 0} end
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
""" + _BUMP + "return {v, n, 1}"

_CLEAR_FAULTS = """
local deleted = redis.call('HLEN', KEYS[2])
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
""" + _BUMP + "return {v, n, deleted}"

_RESET = """
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[8], KEYS[9])
redis.call('SET', KEYS[11], 0)
redis.call('INCR', KEYS[10])
""" + _BUMP + "return {v, n}"

# Run-time personas: the layer is a hash NHS number -> persona JSON text ('' = deleted, which
# also hides a folder persona); personas_version grows on every change, never goes back.
_SET_PERSONA = """
redis.call('HSET', KEYS[9], ARGV[1], ARGV[2])
local pv = redis.call('INCR', KEYS[10])
""" + _BUMP + "return {v, n, pv}"

_RELOAD_PERSONAS = """
redis.call('INCR', KEYS[11])
local pv = redis.call('INCR', KEYS[10])
""" + _BUMP + "return {v, n, pv}"

# ARGV: id1, kind1, id2, kind2, ... (the request's matching rules, oldest first). Implements
# mockprovider.state.faults.choose with liveness read inside the script: every live delay rule
# and the first live rule of another kind; each counted rule taken is charged one use and removed
# when spent. Returns {id, remaining (-1 = not counted)} pairs, flattened.
_TAKE = """
local taken, outcome, spent = {}, false, false
for i = 1, #ARGV, 2 do
  local id, kind = ARGV[i], ARGV[i + 1]
  if (kind == 'delay' or not outcome) and redis.call('HEXISTS', KEYS[2], id) == 1 then
    local left = redis.call('HGET', KEYS[3], id)
    local live = (not left) or tonumber(left) > 0
    if live then
      if kind ~= 'delay' then outcome = true end
      if left then
        left = redis.call('HINCRBY', KEYS[3], id, -1)
        if left <= 0 then
          redis.call('HDEL', KEYS[2], id)
          redis.call('HDEL', KEYS[3], id)
          redis.call('ZREM', KEYS[4], id)
          spent = true
        end
      else
        left = -1
      end
      table.insert(taken, id)
      table.insert(taken, left)
    end
  end
end
if spent then
""" + _BUMP + """
end
return taken
"""


# KEYS: journal only (the one script on every request: the fewer arguments, the cheaper).
# ARGV: journal_size, score1, member1, score2, member2, ... : add the rows, keep the newest.
_JOURNAL = """
for i = 2, #ARGV, 2 do redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -tonumber(ARGV[1]) - 1)
return 1
"""


# KEYS: journal. ARGV: the row as recorded, the row with how its answer went out: replace it, same score.
_JOURNAL_FINISH = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('ZADD', KEYS[1], score, ARGV[2])
end
return 1
"""


def redact(url: str) -> str:
    """The URL without its password (for messages and /_control/health)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:              # not a usable URL (check_url says why): redact by hand
        return redact_url(url)
    if parts.password:
        host = parts.hostname or ""
        if port:
            host += f":{port}"
        user = parts.username or ""
        return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))
    return url


def check_url(url: str) -> None:
    """The settings' own check (mockprovider.config.check_state_url), as a StateStoreError."""
    try:
        check_state_url(url)
    except SettingsError as exc:
        raise StateStoreError(str(exc)) from None


class RedisControlStore:
    """Flags, fault rules and the journal in Redis, with a per-process copy kept current by pub/sub."""

    backend = "redis"

    def __init__(self, defaults: dict, url: str, journal_size: int = 500, replica: str = "",
                 prefix: str = PREFIX, state_dir: str = ""):
        check_url(url)
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError:       # pragma: no cover - redis is an install requirement
            raise StateStoreError("MOCKPROVIDER_STATE_URL needs the 'redis' package (pip install redis)") from None
        self._redis_errors = (redis.RedisError, OSError)
        self.defaults = dict(defaults)
        self.url = url
        self.journal_size = journal_size
        self.replica = replica or socket.gethostname()
        self.prefix = prefix
        k = prefix
        self.keys = [k + "flags", k + "faults", k + "remaining", k + "order", k + "seq", k + "version",
                     k + "changed", k + "journal", k + "personas", k + "personas_version", k + "folder_generation"]
        self.journal_key = self.keys[7]
        self.client = redis.Redis.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=COMMAND_TIMEOUT_S,
            retry=Retry(NoBackoff(), 0), health_check_interval=0)
        self._scripts = {name: self.client.register_script(source) for name, source in (
            ("flags", _SET_FLAGS), ("add", _ADD_FAULT), ("delete", _DELETE_FAULT),
            ("clear", _CLEAR_FAULTS), ("reset", _RESET), ("take", _TAKE), ("journal", _JOURNAL),
            ("persona", _SET_PERSONA), ("reload", _RELOAD_PERSONAS), ("finish", _JOURNAL_FINISH))}
        try:
            self.client.ping()
        except self._redis_errors as exc:
            raise StateStoreError(f"MOCKPROVIDER_STATE_URL {redact(url)}: Redis is not reachable "
                                  f"({_reason(exc)})") from None
        self._pid = None
        self._lock = threading.Lock()       # (re-made per process in _process)
        self._buffer: collections.deque = collections.deque()
        self.dropped = 0                    # journal rows lost because the buffer was full
        self._retry_at = 0.0                # hot path leaves Redis alone until then
        self.last_error = ""
        self._serial = itertools.count(1)
        if not state_dir:
            state_dir = tempfile.mkdtemp(prefix="mockprovider-state-")
            remove_at_exit(state_dir)
        os.makedirs(state_dir, mode=0o700, exist_ok=True)
        # This server's last known copy, shared by its workers: a worker (re)started while Redis
        # is down starts from it rather than from the copy made at start-up.
        self._copy_path = os.path.join(state_dir, "redis-last-known.json")
        self._loaded_here = False
        self._personas_path = os.path.join(state_dir, "redis-last-personas.json")
        # What each worker process holds back, so /_control/health can say it for the whole server.
        self._held_prefix = os.path.join(state_dir, "journal-held.")
        self._held_written = (0, 0)
        self._layer = None                  # the last PersonaLayer read from Redis
        self._cache = None                  # (version, flags, rules, personas_version)
        self._reload()                      # forked workers start from this copy

    # --- per process: the copy and the subscriber thread ------------------------------------------
    def _process(self) -> None:
        """After a fork: a fresh buffer, lock and subscriber thread (never the parent's); the copy
        of flags and rules is kept as the last known state until the subscriber reloads it."""
        if self._pid == os.getpid():
            return
        with _PROCESS_LOCK:
            if self._pid == os.getpid():
                return
            self._lock = threading.Lock()
            self._loaded_here = False
            self._buffer = collections.deque()
            self.dropped = 0
            self._held_written = (0, 0)
            self._subscribed = threading.Event()
            self._stop = threading.Event()
            self._thread = thread = threading.Thread(target=self._listen, name="mockprovider-redis-sub",
                                                     daemon=True)
            thread.start()
            self._pid = os.getpid()
        # Subscribe (and reload) before the first request goes on, so no change falls in between.
        self._subscribed.wait(CONNECT_TIMEOUT_S + 1.0)

    def start_worker(self) -> None:
        """Called once a server worker is ready (gunicorn post_worker_init): subscribe now, not at
        its first request, so its copy is current even if Redis goes away before then."""
        self._process()

    def _listen(self) -> None:
        """Subscriber thread: reload on every change message, then acknowledge it; on a lost
        connection, reconnect every RETRY_S, reload and flush the journal buffer."""
        while not self._stop.is_set():
            pubsub = self._pubsub = self.client.pubsub(ignore_subscribe_messages=False)
            try:
                pubsub.subscribe(self.keys[6])
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        self._reload()              # anything missed while not subscribed
                        self._healthy()
                        self._flush()
                        self._subscribed.set()
                    elif message["type"] == "message":
                        version = int(message["data"])
                        self._reload()
                        if self._layer is None or self._layer.version != self._cache[3]:
                            self._read_layer()      # so the next request finds it here
                        self.client.pipeline(transaction=False).incr(self._ack(version)) \
                            .expire(self._ack(version), 60).execute()
            except self._redis_errors as exc:
                if self._stop.is_set():
                    return
                self._failed(exc)
                if not self._loaded_here:
                    self._load_copy()
                self._subscribed.set()              # do not hold the first request up
                time.sleep(RETRY_S)
            except Exception:                       # never let the thread die silently
                if self._stop.is_set():
                    return
                log.exception("redis subscriber")
                time.sleep(RETRY_S)
            finally:
                try:
                    pubsub.close()
                except Exception:
                    pass

    def close(self) -> None:
        """Stop this process's subscriber thread and drop its connections (tests; shutdown)."""
        stop = getattr(self, "_stop", None)
        if stop is not None and self._pid == os.getpid():
            stop.set()
            try:
                self._pubsub.close()        # wakes the thread from its wait
            except Exception:
                pass
            self._thread.join(3)
        self._flush()
        self.client.close()

    def _ack(self, version) -> str:
        return f"{self.prefix}ack:{version}"

    def _reload(self):
        """Read flags and rules in one MULTI; install them as this process's copy."""
        pipe = self.client.pipeline(transaction=True)
        pipe.get(self.keys[5]).hgetall(self.keys[0]).zrange(self.keys[3], 0, -1) \
            .hgetall(self.keys[1]).hgetall(self.keys[2]).get(self.keys[9])
        version, stored, order, rules, remaining, personas_version = pipe.execute()
        flags = Flags(self.defaults)
        for name, value in stored.items():
            name = name.decode()
            if name in RUNTIME_FLAGS:
                flags[name] = json.loads(value)
        loaded = []
        for rule_id in order:
            raw = rules.get(rule_id)
            if raw is None:
                continue
            left = remaining.get(rule_id)
            loaded.append(dict(json.loads(raw), remaining=int(left) if left is not None else None))
        self._cache = (version, flags, loaded, int(personas_version or 0))
        self._loaded_here = True
        self._save_copy()
        return self._cache

    def _save_copy(self) -> None:
        version, flags, rules, personas_version = self._cache
        _write_json(self._copy_path, {"version": int(version or 0), "flags": flags, "rules": rules,
                                      "personas_version": personas_version})

    def _load_copy(self) -> None:
        """A process that never reached Redis itself: take the server's last known copy."""
        try:
            with open(self._copy_path) as fh:
                saved = json.load(fh)
        except (OSError, ValueError):
            return
        flags = Flags(self.defaults)
        flags.update({k: v for k, v in saved["flags"].items() if k in RUNTIME_FLAGS})
        self._cache = (saved["version"], flags, saved["rules"], saved.get("personas_version", 0))

    def _view(self):
        self._process()
        cache = self._cache
        if cache is None:
            if time.monotonic() < self._retry_at:
                return (None, Flags(self.defaults), [], 0)
            try:
                cache = self._reload()
            except self._redis_errors as exc:
                self._failed(exc)
                return (None, Flags(self.defaults), [], 0)
        return cache

    # --- health ----------------------------------------------------------------------------------------
    def _failed(self, exc) -> None:
        if not self.last_error:
            log.warning("state store %s unavailable: %s; answering from the last known state",
                        redact(self.url), _reason(exc))
        self.last_error = _reason(exc)
        self._retry_at = time.monotonic() + RETRY_S

    def _healthy(self) -> None:
        if self.last_error:
            log.warning("state store %s is back", redact(self.url))
        self.last_error = ""
        self._retry_at = 0.0

    def status(self) -> dict:
        """For /_control/health: a live PING, plus what this process is holding back."""
        self._process()
        try:
            self.client.ping()
            ok = True
        except self._redis_errors as exc:
            self._failed(exc)
            ok = False
        ok = ok and not self.last_error
        buffered, dropped = self._held_by_server()
        out = {"backend": "redis", "status": "ok" if ok else "degraded", "url": redact(self.url),
               "replica": self.replica, "journal_buffered": buffered, "journal_dropped": dropped}
        if not ok:
            out["error"] = self.last_error
        return out

    def _call(self, fn):
        """A control call: Redis or StoreUnavailable (never a stale answer to a write)."""
        self._process()
        try:
            result = fn()
        except self._redis_errors as exc:
            self._failed(exc)
            raise StoreUnavailable(f"state store {redact(self.url)} unavailable: {_reason(exc)}") from None
        self._healthy()
        return result

    def _write(self, name: str, args: list):
        """Run a write script; wait until every subscriber has reloaded; return the script's answer."""
        def run():
            result = self._scripts[name](keys=self.keys, args=args)
            version, receivers = int(result[0]), int(result[1])
            if version:
                self._wait_acks(version, receivers)
            return result
        return self._call(run)

    def _wait_acks(self, version: int, receivers: int) -> None:
        deadline = time.monotonic() + ACK_WAIT_S
        pause = 0.0005
        while receivers:
            acked = int(self.client.get(self._ack(version)) or 0)
            if acked >= receivers:
                return
            if time.monotonic() > deadline:
                log.warning("state change %s: %d of %d workers acknowledged within %.1f s",
                            version, acked, receivers, ACK_WAIT_S)
                return
            time.sleep(pause)
            pause = min(pause * 2, 0.01)

    # --- the ControlStore interface ------------------------------------------------------------------
    def current(self) -> ControlView:
        """The local copy: no Redis round trip (kept current by the subscriber thread)."""
        _, flags, rules, personas_version = self._view()
        return ControlView(flags, rules, personas_version)

    def describe(self) -> str:
        return redact(self.url)

    def flags(self) -> Flags:
        return self._view()[1]

    def update_flags(self, changes: dict) -> Flags:
        if not isinstance(changes, dict):
            raise SettingsError("flags must be a JSON object")
        checked = {name: check_flag_value(name, value) for name, value in changes.items()}
        args = []
        for name, value in checked.items():
            args += [name, json.dumps(value)]
        if args:
            self._write("flags", args)
        return self._call(self._reload)[1]

    def fault_rules(self) -> list[dict]:
        return [dict(rule) for rule in self._call(self._reload)[2]]

    def add_fault(self, rule: dict) -> dict:
        times = rule.get("times")
        self._write("add", [rule["id"], json.dumps(rule), "" if times is None else str(times)])
        return dict(rule, remaining=times)

    def delete_fault(self, rule_id: str) -> bool:
        return bool(int(self._write("delete", [rule_id])[2]))

    def clear_faults(self) -> int:
        return int(self._write("clear", [])[2])

    def take_faults(self, candidates: list[dict]) -> list[dict]:
        """As SqliteControlStore.take_faults, atomic across every replica (one Lua script).
        Redis unreachable: uncounted rules still apply, counted ones do not (never over-fire)."""
        if not candidates:
            return []
        if all(rule.get("remaining") is None for rule in candidates):
            return choose(candidates)
        if time.monotonic() < self._retry_at:
            return choose([rule for rule in candidates if rule.get("remaining") is None])
        args = []
        for rule in candidates:
            args += [rule["id"], rule["kind"]]
        try:
            result = self._scripts["take"](keys=self.keys, args=args)
        except self._redis_errors as exc:
            self._failed(exc)
            return choose([rule for rule in candidates if rule.get("remaining") is None])
        by_id = {rule["id"]: rule for rule in candidates}
        taken = []
        for i in range(0, len(result), 2):
            rule_id, left = result[i].decode(), int(result[i + 1])
            taken.append(dict(by_id[rule_id], remaining=None if left < 0 else left))
        return taken

    # --- journal -----------------------------------------------------------------------------------------
    def record(self, entry: dict) -> str:
        """One script call: ZADD + trim (with any rows buffered while Redis was away). Returns
        the row's member, for :meth:`finish`."""
        self._process()
        entry.setdefault("replica", self.replica)
        # A unique member: replica, process and a serial before the JSON row; scored by time.
        member = f"{self.replica}:{os.getpid()}:{next(self._serial)}|{json.dumps(entry)}"
        with self._lock:
            self._buffer.append((member, time.time()))
            while len(self._buffer) > self.journal_size:
                self._buffer.popleft()
                self.dropped += 1
        if time.monotonic() >= self._retry_at:
            self._flush()
        if self._buffer or self._held_written != (0, self.dropped):
            self._publish_held()
        return member

    def finish(self, member: str, fields: dict) -> None:
        """Add how the answer went out to the row ``member`` (its replacement keeps its score):
        in the buffer if it is still there, else in Redis, atomically (one script). A row that
        has left the journal meanwhile is not brought back; with Redis away the fields are lost."""
        self._process()
        head, _, row = member.partition("|")
        updated = f"{head}|{json.dumps({**json.loads(row), **fields})}"
        with self._lock:
            for i, (buffered, score) in enumerate(self._buffer):
                if buffered == member:
                    self._buffer[i] = (updated, score)
                    return
        if time.monotonic() < self._retry_at:
            return
        try:
            self._scripts["finish"](keys=[self.journal_key], args=[member, updated])
        except self._redis_errors as exc:
            self._failed(exc)

    def _flush(self) -> None:
        with self._lock:
            rows = list(self._buffer)
            if not rows:
                return
            args = [self.journal_size]
            for member, score in rows:
                args += [repr(score), member]
            try:
                self._scripts["journal"](keys=[self.journal_key], args=args)
            except self._redis_errors as exc:
                self._failed(exc)
                return
            for _ in rows:
                self._buffer.popleft()
        self._healthy()
        if self._held_written != (0, self.dropped):
            self._publish_held()

    def _publish_held(self) -> None:
        """This process's (buffered, dropped) in a small file of the state folder (written only
        when it changes: never while Redis answers and nothing was lost)."""
        held = (len(self._buffer), self.dropped)
        if held == self._held_written:
            return
        path = f"{self._held_prefix}{os.getpid()}"
        try:
            with open(path + ".tmp", "w") as fh:
                fh.write(f"{held[0]} {held[1]}")
            os.replace(path + ".tmp", path)
            self._held_written = held
        except OSError:
            pass

    def _held_by_server(self) -> tuple[int, int]:
        """(buffered, dropped) summed over every live process of this server (its state folder)."""
        self._publish_held()
        buffered = dropped = 0
        folder, prefix = os.path.split(self._held_prefix)
        try:
            names = [n for n in os.listdir(folder) if n.startswith(prefix) and n[len(prefix):].isdigit()]
        except OSError:
            return len(self._buffer), self.dropped
        for name in names:
            pid = int(name[len(prefix):])
            path = os.path.join(folder, name)
            if pid != os.getpid():
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:          # a worker that is gone took its rows with it
                    try:
                        os.unlink(path)
                    except OSError:
                        pass
                    continue
                except PermissionError:
                    pass
            try:
                with open(path) as fh:
                    one, two = fh.read().split()
                buffered, dropped = buffered + int(one), dropped + int(two)
            except (OSError, ValueError):
                continue
        return buffered, dropped

    def journal(self, limit: int | None = None) -> list[dict]:
        """Newest first across every replica, at most ``journal_size`` rows."""
        limit = self.journal_size if limit is None else max(0, min(limit, self.journal_size))
        if limit == 0:
            return []

        def read():
            self._flush()
            return self.client.zrevrange(self.journal_key, 0, limit - 1)
        return [json.loads(member.split(b"|", 1)[1]) for member in self._call(read)]

    def clear_journal(self) -> None:
        self._call(lambda: self.client.delete(self.journal_key))

    # --- reset -------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to start-up defaults on every replica: flags as configured, no rules, no journal."""
        self._write("reset", [])

    # --- run-time personas (a layer over the personas folder; see ControlStore) -----------------------
    def personas_version(self) -> int:
        return self._view()[3]

    def _read_layer(self) -> PersonaLayer:
        pipe = self.client.pipeline(transaction=True)
        pipe.get(self.keys[9]).get(self.keys[10]).hgetall(self.keys[8])
        version, generation, entries = pipe.execute()
        # The texts stay UTF-8 bytes: the persona keeps those very bytes (one copy with this one).
        layer = PersonaLayer(int(version or 0), int(generation or 0),
                             {nhs.decode(): (text or None) for nhs, text in entries.items()})
        self._layer = layer
        _write_json(self._personas_path, {**layer._asdict(), "entries": {
            nhs: text.decode() if isinstance(text, bytes) else text for nhs, text in layer.entries.items()}})
        return layer

    def persona_layer(self) -> PersonaLayer:
        """The layer as of this process's copy: read from Redis only when its version moved (the
        subscriber usually has it already). Redis down: the last layer read, by this process or
        (for a worker started during the outage) by another worker of this server."""
        layer = self._layer
        if layer is not None and layer.version == self._view()[3]:
            return layer
        if time.monotonic() >= self._retry_at:
            try:
                return self._read_layer()
            except self._redis_errors as exc:
                self._failed(exc)
        if layer is None:
            try:
                with open(self._personas_path) as fh:
                    layer = self._layer = PersonaLayer(**json.load(fh))
            except (OSError, ValueError, TypeError):
                layer = PersonaLayer(0, 0, {})       # never reached Redis: the start-up cast
        return layer

    def put_persona(self, nhs_number: str, text: str) -> int:
        return int(self._write("persona", [nhs_number, text])[2])

    def delete_persona(self, nhs_number: str) -> int:
        return int(self._write("persona", [nhs_number, ""])[2])

    def reload_personas(self) -> int:
        return int(self._write("reload", [])[2])

    def snapshot(self) -> dict:
        _, flags, rules, _ = self._call(self._reload)
        return {"flags": dict(flags), "faults": [dict(rule) for rule in rules]}


def _write_json(path: str, data) -> None:
    """Atomically (a private temporary file, then rename); a failure only costs the copy."""
    temporary = f"{path}.{os.getpid()}.{threading.get_ident()}"
    try:
        with open(temporary, "w") as fh:
            json.dump(data, fh)
        os.replace(temporary, path)
    except OSError:
        pass


def _reason(exc) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
