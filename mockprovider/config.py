"""Settings: read once from MOCKPROVIDER_* environment variables and explicit overrides.

Two kinds of setting:
- start-up settings (where to listen, which practice, which personas): frozen after start;
- run-time flags (enablement, validation mode, compatibility choices): their start-up value is
  read here, and the control state (mockprovider.state.control) holds the live value, which
  the control API may change and ``POST /_control/reset`` puts back.

Every field reads ``MOCKPROVIDER_<FIELD NAME IN CAPITALS>``.
"""
from __future__ import annotations

import difflib
import ipaddress
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

MB = 1024 * 1024

# Built-in personas live in the repository's personas/ folder (next to the package), or in the
# package's own copy when installed from a wheel.
# (setup.py copies personas/ into the wheel as mockprovider/builtin_personas).
_PACKAGED_PERSONAS = Path(__file__).resolve().parent / "builtin_personas"
_REPO_PERSONAS = _PACKAGED_PERSONAS if _PACKAGED_PERSONAS.is_dir() else \
    Path(__file__).resolve().parent.parent / "personas"
BUILT_IN_PERSONAS = str(_REPO_PERSONAS)


class SettingsError(ValueError):
    """A setting has a value of the wrong kind; the message names the variable."""


def _flag(default, choices=None, doc=""):
    return field(default=default, metadata={"runtime": True, "choices": choices, "doc": doc})


def _setting(default, doc="", choices=None):
    return field(default=default, metadata={"runtime": False, "choices": choices, "doc": doc})


@dataclass(frozen=True)
class Settings:
    # --- start-up settings ------------------------------------------------------------------------
    host: str = _setting("127.0.0.1", "address to bind")
    port: int = _setting(8080, "port to bind")
    workers: int = _setting(2, "gunicorn worker processes")
    threads: int = _setting(128, "request threads per worker (gthread): concurrent requests a worker "
                                 "serves; a slow download holds one")
    personas: str = _setting(str(_REPO_PERSONAS), "folder of persona JSON files")
    ods_code: str = _setting("B82617", "the provider practice's ODS code (in every service root)")
    provider_asid: str = _setting("918999198738", "the provider's ASID (Ssp-To must equal it)")
    public_base_url: str = _setting("", "absolute base for attachment URLs, e.g. https://mock.example; "
                                        "empty = the host the consumer called (the Spine-proxy form's "
                                        "provider host, trusted X-Forwarded-*, else the request's own)")
    trusted_proxies: str = _setting("", "addresses whose X-Forwarded-Host / X-Forwarded-Proto are honoured "
                                        "for attachment URLs: comma-separated IPs or CIDRs, '*' for any; "
                                        "empty = never")
    consumer_ods: str = _setting("", "ODS of the requesting practice when a persona names no "
                                     "registered practice (empty = any requesting practice counts)")
    control_token: str = _setting("", "when set, /_control/* needs Authorization: Bearer <token>")
    state_dir: str = _setting("", "folder for the shared control state (empty = a private temporary folder)")
    state_url: str = _setting("", "redis://host:port/db: keep the control state (flags, fault rules, journal, "
                                  "run-time personas) in Redis, shared by every replica; empty = SQLite "
                                  "in state_dir")
    replica: str = _setting("", "this server's name in journal rows (empty = the host name)")
    journal_size: int = _setting(500, "how many requests the journal keeps")
    max_body_bytes: int = _setting(1 * MB, "largest request body accepted")
    max_persona_body_bytes: int = _setting(64 * MB, "largest body PUT /_control/personas/{nhs} accepts (a persona "
                                                    "or a structured Bundle to import); over it: 413")
    max_control_body_bytes: int = _setting(1 * MB, "largest body of any other control call (flags, fault rules); "
                                                   "over it: 413")
    client_timeout_seconds: int = _setting(30, "longest wait on one socket read or write before a slow "
                                               "client is closed (gunicorn)")
    jwt_leeway_seconds: int = _setting(0, "seconds of grace on JWT expiry")
    tls_certfile: str = _setting("", "TLS certificate (PEM); enables HTTPS")
    tls_keyfile: str = _setting("", "TLS private key (PEM)")
    tls_ca_certs: str = _setting("", "CA bundle; when set, a client certificate is required (mutual TLS)")
    log_format: str = _setting("text", "start-up and access log lines on stdout: text or json (one object a line)",
                               ("text", "json"))
    access_log: bool = _setting(True, "one line a request on stdout (time, method, path, status, ms, trace id, "
                                      "interaction, Spine code)")
    allow_empty: bool = _setting(False, "serve with no personas at all (otherwise an empty folder is refused)")
    practices: str = _setting("", "practices registry (TOML; docs/lookups.md): the practices the mock serves and "
                                  "SDS publishes, and the consumer systems; empty = practices.toml in the "
                                  "personas folder, else the built-in one")

    # --- run-time flags (changeable through /_control/flags) --------------------------------------
    gpconnect_enabled: bool = _flag(True, doc="GP Connect enabled at the practice")
    structured_enabled: bool = _flag(True, doc="Access Record Structured capability enabled; off: the structured "
                                               "CapabilityStatement (metadata) and Retrieve a structured record "
                                               "answer 403 ACCESS DENIED (migrate structured ignores enablement)")
    documents_enabled: bool = _flag(True, doc="Access Document capability enabled")
    validation: str = _flag("strict", ("strict", "lenient"),
                            "lenient accepts missing Ssp-From/Ssp-To and relaxes aud (docs: Requests, validation modes)")
    dissent_blocks_migrate: bool = _flag(True, doc="dissented patient -> 403 NO_PATIENT_CONSENT on migrate "
                                                   "(seed table); false as the later draft (ARS-793)")
    migrate_document_codes: str = _flag("seed", ("seed", "current"),
                                        "seed: 403 NOT_AUTHORISED; current: NO_RELATIONSHIP 403 / "
                                        "CONFLICTING_VALUES 400")
    migrate_document_enablement: str = _flag("ignore", ("ignore", "honour"),
                                             "migrate a document ignores enablement (seed 'availability "
                                             "of data') or honours the ACCESS DENIED rows")
    migrate_document_limit_bytes: int = _flag(100 * MB, doc="migrate-a-document size limit; 0 = unlimited")
    retrieve_document_limit_bytes: int = _flag(5 * MB, doc="retrieve-a-document size limit")
    error_display: str = _flag("codesystem", ("codesystem", "guidance"),
                               "displays from the Spine CodeSystem or the guidance table")
    nhs_number_status_system: str = _flag("example", ("example", "canonical"),
                                          "NHS-number-status system URL as the spec examples write it, "
                                          "or the CodeSystem's canonical URL")
    patient_general_practitioner: str = _flag("seed", ("seed", "profile"),
                                              "Patient.generalPractitioner: seed = usual GP and practice "
                                              "Organization (the seed page); profile = one reference, as "
                                              "CareConnect-GPC-Patient-1 allows (usual GP, else the practice)")
    # --- strict modes of the look-up journey (docs/lookups.md) ---
    ssp_checks: bool = _flag(False, doc="requests in the Spine-proxy form get the proxy's own refusals: "
                                        "the embedded root is not an address SDS publishes (400), Ssp-From "
                                        "not a registered consumer for the interaction (403), Ssp-To not the "
                                        "practice's ASID (403)")
    jwt_aud: str = _flag("url", ("url", "practice-root"),
                         "url: the JWT aud is a non-empty http(s) URL (strict validation); practice-root: it "
                         "must equal the service root SDS publishes for the practice and interaction")
    sds_apikey: str = _flag("lenient", ("lenient", "required"),
                            "SDS FHIR API: required = a request without an apikey header answers 401")
    pds_auth: str = _flag("lenient", ("lenient", "required"),
                          "PDS FHIR API: required = every request needs a bearer token from POST /oauth2/token "
                          "(401 ACCESS_DENIED) and the token request's client assertion claims are checked")

    # ------------------------------------------------------------------------------------------------
    @classmethod
    def from_env(cls, environ=None, **overrides) -> "Settings":
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            name = "MOCKPROVIDER_" + f.name.upper()
            if name in environ:
                values[f.name] = parse_value(f, environ[name], name)
        for key, value in overrides.items():
            if value is None:
                continue
            f = FIELDS.get(key)
            if f is None:
                raise SettingsError(f"unknown setting {key!r}")
            values[key] = parse_value(f, value, key) if isinstance(value, str) else value
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        trusted = self.trusted_proxies.strip()
        if trusted and trusted != "*":
            for item in trusted.split(","):
                try:
                    ipaddress.ip_network(item.strip(), strict=False)
                except ValueError:
                    raise SettingsError(f"trusted_proxies: {item.strip()!r} is not an IP address or CIDR "
                                        "(comma-separated, or '*')") from None
        for f in fields(self):
            choices = f.metadata.get("choices")
            if choices and getattr(self, f.name) not in choices:
                raise SettingsError(f"{f.name} must be one of {', '.join(choices)}")
        if self.workers < 1:
            raise SettingsError(f"workers must be at least 1, not {self.workers}")
        if not 1 <= self.port <= 65535:
            raise SettingsError(f"port must be between 1 and 65535, not {self.port}")
        if self.state_url:
            check_state_url(self.state_url)

    def with_changes(self, **changes) -> "Settings":
        return replace(self, **changes)

    def runtime_defaults(self) -> dict:
        """The start-up values of every run-time flag (what reset returns to)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.metadata.get("runtime")}


FIELDS = {f.name: f for f in fields(Settings)}
RUNTIME_FLAGS = {name: f for name, f in FIELDS.items() if f.metadata.get("runtime")}
PREFIX = "MOCKPROVIDER_"

# MOCKPROVIDER_* variables that are not server settings but are read elsewhere: by the control CLI
# (mockprovider control --url) and by the project's own test harness. Known, so never warned about.
OTHER_VARIABLES = {
    "MOCKPROVIDER_URL": "the running mock the control CLI talks to (mockprovider control --url)",
    "MOCKPROVIDER_FUZZ_SCALE": "test suite: times as many fuzz examples (make fuzz)",
    "MOCKPROVIDER_SCREENSHOTS": "test suite: save the console screenshots",
    "MOCKPROVIDER_CHROMIUM": "test suite: the chromium the console tests drive",
}


def variable_names() -> list[str]:
    """Every MOCKPROVIDER_* variable the server reads: one a setting (derived from Settings)."""
    return [PREFIX + f.name.upper() for f in fields(Settings)]


def unknown_variables(environ=None) -> list[tuple[str, str | None]]:
    """(variable, nearest known variable or None) for every ``MOCKPROVIDER_*`` variable in the
    environment that no setting reads (e.g. ``MOCKPROVIDER_CONTROLTOKEN``, a typo that would
    otherwise leave the control API open without a word), sorted by name."""
    environ = os.environ if environ is None else environ
    known = variable_names()
    everything = set(known) | set(OTHER_VARIABLES)
    out = []
    for name in sorted(environ):
        if not name.startswith(PREFIX) or name in everything:
            continue
        close = difflib.get_close_matches(name, known + list(OTHER_VARIABLES), n=1, cutoff=0.75)
        out.append((name, close[0] if close else None))
    return out


def check_state_url(url: str) -> None:
    """A ``state_url`` the Redis client can use, or SettingsError saying what is wrong with it:
    the scheme (redis, rediss, unix), the port (1-65535), the database (a whole number: the
    path ``/<db>``, or ``?db=<n>``). Checked here so a bad URL is one line at start-up, before
    any Redis client parses it."""
    from urllib.parse import parse_qs, urlsplit
    what = "MOCKPROVIDER_STATE_URL"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise SettingsError(f"{what} {redact_url(url)!r} is not a URL: {exc} (use redis://host:port/db)") from None
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise SettingsError(f"{what} {redact_url(url)!r}: use redis://host:port/db (or rediss:// or unix://); "
                            "empty = SQLite in MOCKPROVIDER_STATE_DIR")
    if port is not None and not 1 <= port <= 65535:
        raise SettingsError(f"{what} {redact_url(url)!r}: port {port} is not between 1 and 65535")
    databases = parse_qs(parts.query).get("db", [])
    if parts.scheme != "unix":
        path = parts.path.strip("/")
        if path:
            databases.append(path)
    for db in databases:
        if not db.isdigit():
            raise SettingsError(f"{what} {redact_url(url)!r}: the database {db!r} is not a whole number "
                                "(redis://host:port/<db>, e.g. /0)")


def redact_url(url: str) -> str:
    """The URL with any password replaced (never parses the port: the URL may be the bad one)."""
    scheme, sep, rest = url.partition("://")
    auth, at, host = rest.rpartition("@")
    if at and ":" in auth:
        auth = auth.split(":", 1)[0] + ":***"
    return f"{scheme}{sep}{auth}{at}{host}"


def parse_value(f, raw, name):
    """Parse one setting given as text (environment variable or CLI) into the field's type."""
    kind = type(f.default)
    try:
        if kind is bool:
            lowered = str(raw).strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind is int:
            return int(str(raw).strip())
        return str(raw)
    except ValueError:
        raise SettingsError(f"{name}: {raw!r} is not a valid {kind.__name__}") from None


def check_flag_value(name: str, value):
    """Validate one run-time flag value from JSON; returns the value or raises SettingsError."""
    f = RUNTIME_FLAGS.get(name)
    if f is None:
        raise SettingsError(f"unknown flag {name!r}")
    kind = type(f.default)
    if kind is int and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise SettingsError(f"flag {name!r} takes a whole number >= 0")
    if kind is not int and not isinstance(value, kind):
        raise SettingsError(f"flag {name!r} takes a {kind.__name__}")
    choices = f.metadata.get("choices")
    if choices and value not in choices:
        raise SettingsError(f"flag {name!r} must be one of {', '.join(choices)}")
    return value
