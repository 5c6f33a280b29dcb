"""The practice registry: which practices the mock serves and SDS publishes, and which consumer
systems it knows. Configuration, not code: a TOML file (``personas/practices.toml`` ships with the
built-in cast; ``MOCKPROVIDER_PRACTICES`` points at another), read once at start-up.

One registry answers three doors so a consumer's whole journey agrees with itself:

- the **provider** serves each registered practice's personas on that practice's roots, checks
  ``Ssp-To`` against its ASID and (``ssp_checks``) ``Ssp-From`` against the consumer systems;
- **SDS** (``/spine-directory/FHIR/R4``) publishes each practice's AS record (Device: ASID, party key,
  manufacturer) and MHS records (Endpoint: the service root per interaction), and each consumer's
  AS record;
- **PDS** (``/personal-demographics/FHIR/R4``) shows each persona's registered practice
  (:mod:`mockprovider.registry.pds_facts`).

The file format is documented in docs/lookups.md ("The practices registry"). A mistake is one
:class:`RegistryError` naming the file and the key (``practice[2].asid``); never a traceback.

How the start-up settings combine with the registry: the **first** practice is the default one
(personas without ``practice`` live there). ``MOCKPROVIDER_ODS_CODE`` and
``MOCKPROVIDER_PROVIDER_ASID``, when set to anything but their built-in values (``B82617`` /
``918999198738``), rename the default practice and change its ASID, exactly as they changed "the"
practice before the registry existed; the settings then always read the default practice's values.
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from functools import lru_cache

from .. import spec
from ..config import BUILT_IN_PERSONAS, SettingsError

FILE = "practices.toml"
BUILT_IN = os.path.join(BUILT_IN_PERSONAS, FILE)
DEFAULT_ODS = "B82617"            # the built-in values of MOCKPROVIDER_ODS_CODE / _PROVIDER_ASID
DEFAULT_ASID = "918999198738"

# The GP Connect interactions SDS can publish: short name (the routes table's name) -> (interaction
# id, root kind). The ids are the ones the GPC Consumer Adaptor asks SDS for (SdsRequestBuilder) and
# the metadata ones of the spec's interaction-id table.
SERVICES = {
    "retrieve_structured": (spec.RETRIEVE_STRUCTURED, "structured"),
    "migrate_structured": (spec.MIGRATE_STRUCTURED, "structured"),
    "metadata_structured": (spec.METADATA_STRUCTURED, "structured"),
    "find_patient": (spec.FIND_PATIENT, "documents"),
    "read_patient": (spec.READ_PATIENT, "documents"),
    "search_documents": (spec.SEARCH_DOCUMENTS, "documents"),
    "retrieve_document": (spec.RETRIEVE_DOCUMENT, "documents"),
    "migrate_document": (spec.MIGRATE_DOCUMENT, "documents"),
    "metadata_documents": (spec.METADATA_DOCUMENTS, "documents"),
}
BY_INTERACTION_ID = {interaction_id: name for name, (interaction_id, _) in SERVICES.items()}

SUPPLIERS = ("emis", "tpp", "generic")
# Negative paths a practice may carry (and a fault rule of kind "quirk" may add for a while):
QUIRKS = {
    "unreachable": "the Spine Secure Proxy cannot reach it: a request in the proxy form answers 502 "
                   "ERROR_COMMUNICATING_TO_ENDPOINT_URL (a direct request is served)",
    "trailing-slash": "SDS publishes its addresses with a trailing slash",
    "no-party-key": "SDS publishes its Device and Endpoint without nhsMhsPartyKey",
    "two-endpoints": "SDS answers a second Endpoint (another MHS record, its own party key) for each interaction",
    "no-mhs-id": "SDS publishes its Endpoint without nhsMHSId",
    "empty-address": "SDS publishes its Endpoint with an empty address",
    "not-on-sds": "PDS knows it, SDS does not (empty Bundles) and the provider does not serve it",
}
# The quirks that only change what SDS answers (a fault rule of kind "quirk" may add these).
SDS_QUIRKS = ("trailing-slash", "no-party-key", "two-endpoints", "no-mhs-id", "empty-address", "not-on-sds")

ODS_RE = re.compile(r"^[A-Z0-9]{3,10}\Z")
ASID_RE = re.compile(r"^[0-9]{1,20}\Z")
PARTY_KEY_RE = re.compile(r"^[A-Z0-9]{3,10}-[0-9]{1,10}\Z")
MHS_ID_RE = re.compile(r"^[A-Za-z0-9]{1,40}\Z")
HOST_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.\-]{0,251}[A-Za-z0-9])?(:[0-9]{1,5})?\Z")
ROOT_RE = re.compile(r"^[A-Za-z0-9._\-]+(/[A-Za-z0-9._\-]+)*\Z")

PRACTICE_KEYS = {"ods", "name", "asid", "party_key", "mhs_id", "supplier", "manufacturer", "host",
                 "interactions", "structured_root", "documents_root", "roots", "aliases", "quirks"}
CONSUMER_KEYS = {"ods", "name", "asid", "manufacturer", "interactions", "party_key"}
# Root spellings a practice with ``aliases = true`` answers besides the ones it publishes (the
# forms the mock has always accepted; mockprovider.http.routes.ROOTS).
ALIAS_ROOTS = ("gpconnect/structured/fhir", "gpconnect/documents/fhir", "gpconnect/fhir",
               "gpconnect/structured", "gpconnect/documents", "gpconnect-documents")


class RegistryError(SettingsError):
    """The registry file is wrong: one line naming the file, the key and the reason."""

    def __init__(self, file: str, key: str, reason: str):
        self.file, self.key, self.reason = file, key, reason
        super().__init__(f"practices registry {file}: {key}: {reason}" if key else
                         f"practices registry {file}: {reason}")


@dataclass(frozen=True, eq=False)
class Practice:
    ods: str
    name: str
    asid: str
    party_key: str
    mhs_id: str
    supplier: str
    manufacturer: str
    host: str = ""                              # "" = the host the consumer called
    interactions: tuple = tuple(SERVICES)       # short names it offers
    roots: dict = field(default_factory=dict)   # short name -> root after /{ODS}/STU3/1/
    aliases: bool = False
    quirks: frozenset = frozenset()
    all_interactions: bool = True               # the file lists none: every interaction the mock serves

    @property
    def on_sds(self) -> bool:
        return "not-on-sds" not in self.quirks

    @property
    def served(self) -> bool:
        """Whether the provider answers for it (a practice SDS does not know is not on GP Connect)."""
        return self.on_sds

    def offers(self, name: str) -> bool:
        """Whether it offers the interaction ``name`` (a routes-table name). A practice listing no
        interactions offers every one the mock serves, the new ones too."""
        return self.all_interactions or name in self.interactions

    def root_of(self, name: str) -> str:
        return self.roots[name]

    def serves_root(self, root: str) -> bool:
        return (self.aliases and root in ALIAS_ROOTS) or root in self.roots.values()

    def documents_root(self) -> str:
        """The root its documents are fetched from (attachment URLs): the published root of
        retrieve / migrate a document."""
        for name in ("migrate_document", "retrieve_document", "search_documents", "find_patient"):
            if name in self.roots:
                return self.roots[name]
        return "gpconnect/documents/fhir"

    def origin(self, consumer_origin: str) -> str:
        return f"https://{self.host}" if self.host else consumer_origin

    def address(self, name: str, consumer_origin: str) -> str:
        """The service root SDS publishes for interaction ``name`` (no trailing slash)."""
        return f"{self.origin(consumer_origin)}/{self.ods}/STU3/1/{self.roots[name]}"

    def fqdn(self, consumer_origin: str) -> str:
        host = self.host or consumer_origin.partition("://")[2]
        return host.rsplit(":", 1)[0] if host.count(":") == 1 else host

    def second_party_key(self) -> str:
        """The party key of its second MHS record (quirk ``two-endpoints``)."""
        prefix, _, number = self.party_key.rpartition("-")
        return f"{prefix}-{int(number) + 1:0{len(number)}d}"


@dataclass(frozen=True)
class Consumer:
    ods: str
    name: str
    asid: str
    manufacturer: str
    interactions: tuple
    party_key: str = ""

    def consumes(self, name: str) -> bool:
        return name in self.interactions


@dataclass(frozen=True)
class AsRecord:
    """An Accredited System record (SDS Device): a practice's provider system or a consumer system."""
    ods: str
    asid: str
    party_key: str | None
    manufacturer: str
    interactions: tuple           # interaction ids


@dataclass(frozen=True)
class MhsRecord:
    """A Message Handling System record (SDS Endpoint) for one interaction of one practice."""
    practice: Practice
    name: str                     # the interaction's short name
    party_key: str | None
    mhs_id: str | None
    second: bool = False          # the extra record of quirk two-endpoints

    @property
    def interaction_id(self) -> str:
        return SERVICES[self.name][0]


class Registry:
    """Every practice (in file order; the first is the default) and every consumer system."""

    def __init__(self, practices: list[Practice], consumers: list[Consumer], file: str):
        self.practices = practices
        self.consumers = consumers
        self.file = file
        self.by_ods = {p.ods: p for p in practices}
        self.unreachable = any("unreachable" in p.quirks for p in practices)   # read on every request
        self.consumers_by_asid: dict[str, list[Consumer]] = {}
        for consumer in consumers:
            self.consumers_by_asid.setdefault(consumer.asid, []).append(consumer)

    @property
    def default(self) -> Practice:
        return self.practices[0]

    def get(self, ods: str) -> Practice | None:
        return self.by_ods.get(ods)

    def served(self, ods: str) -> Practice | None:
        """The practice the provider answers for at ``ods``, or None (unregistered or not on GP Connect)."""
        practice = self.by_ods.get(ods)
        return practice if practice is not None and practice.served else None

    def home_of(self, persona) -> Practice:
        """A persona's home practice: its ``practice``, else the default practice."""
        return self.by_ods.get(getattr(persona, "practice", None) or self.default.ods, self.default)

    def consumer_allowed(self, asid: str | None, name: str) -> bool:
        """Whether ``asid`` is a registered consumer system for interaction ``name`` (the Spine
        Secure Proxy's sender check). A served practice's own ASID counts for the interactions it
        offers: a principal GP system is provider and consumer at once, and the GPC Consumer Adaptor
        finds its ``Ssp-From`` with a Device search on the ODS code of the practice it calls
        (SdsFilter.getGpcConsumerAsid), which answers that practice's own AS record."""
        if asid is None:
            return False
        if any(c.consumes(name) for c in self.consumers_by_asid.get(asid, ())):
            return True
        return any(p.asid == asid and p.served and name in p.roots for p in self.practices)

    # --- SDS ------------------------------------------------------------------------------------------
    def as_records(self, extra_quirks=None) -> list[AsRecord]:
        """Every AS record: each practice on SDS, then each consumer system (one record per ASID:
        a consumer sharing a practice's ASID adds its interactions to the practice's record)."""
        extra_quirks = extra_quirks or {}
        records: dict[str, AsRecord] = {}
        for p in self.practices:
            quirks = p.quirks | extra_quirks.get(p.ods, frozenset())
            if "not-on-sds" in quirks:
                continue
            ids = tuple(SERVICES[name][0] for name in p.roots)
            records[p.asid] = AsRecord(p.ods, p.asid, None if "no-party-key" in quirks else p.party_key,
                                       p.manufacturer, ids)
        for c in self.consumers:
            ids = tuple(SERVICES[name][0] for name in c.interactions if name in SERVICES)
            known = records.get(c.asid)
            if known is not None:
                records[c.asid] = replace(known, interactions=known.interactions + tuple(
                    i for i in ids if i not in known.interactions))
            else:
                records[c.asid] = AsRecord(c.ods, c.asid, c.party_key or None, c.manufacturer, ids)
        return list(records.values())

    def devices(self, ods: str, interaction_id: str, party_key: str | None = None,
                manufacturer: str | None = None, extra_quirks=None) -> list[AsRecord]:
        """SDS ``GET /Device``: AS records of organisation ``ods`` offering ``interaction_id``,
        narrowed by party key and manufacturing organisation when given."""
        return [r for r in self.as_records(extra_quirks)
                if r.ods == ods and interaction_id in r.interactions
                and (party_key is None or r.party_key == party_key)
                and (manufacturer is None or r.manufacturer == manufacturer)]

    def mhs_records(self, extra_quirks=None) -> list[MhsRecord]:
        extra_quirks = extra_quirks or {}
        out = []
        for p in self.practices:
            quirks = p.quirks | extra_quirks.get(p.ods, frozenset())
            if "not-on-sds" in quirks:
                continue
            party_key = None if "no-party-key" in quirks else p.party_key
            mhs_id = None if "no-mhs-id" in quirks else p.mhs_id
            for name in p.roots:
                out.append(MhsRecord(p, name, party_key, mhs_id))
                if "two-endpoints" in quirks:
                    out.append(MhsRecord(p, name, None if party_key is None else p.second_party_key(),
                                         mhs_id, second=True))
        return out

    def endpoints(self, ods: str | None, interaction_id: str | None, party_key: str | None = None,
                  extra_quirks=None) -> list[MhsRecord]:
        """SDS ``GET /Endpoint``: MHS records matching every criterion given (the API's allowed
        combinations are checked by the caller)."""
        return [r for r in self.mhs_records(extra_quirks)
                if (ods is None or r.practice.ods == ods)
                and (interaction_id is None or r.interaction_id == interaction_id)
                and (party_key is None or r.party_key == party_key)]

    def describe(self) -> list[dict]:
        """Plain data for the control API and the console."""
        return [practice_row(p, i == 0) for i, p in enumerate(self.practices)]


def practice_row(p: Practice, default: bool = False) -> dict:
    return {"ods": p.ods, "name": p.name, "asid": p.asid, "party_key": p.party_key, "mhs_id": p.mhs_id,
            "supplier": p.supplier, "manufacturer": p.manufacturer, "host": p.host or None,
            "default": default, "on_sds": p.on_sds, "served": p.served, "aliases": p.aliases,
            "quirks": sorted(p.quirks),
            "interactions": [{"name": name, "interaction_id": SERVICES[name][0], "root": root}
                             for name, root in p.roots.items()]}


def consumer_row(c: Consumer) -> dict:
    return {"ods": c.ods, "name": c.name, "asid": c.asid, "manufacturer": c.manufacturer,
            "party_key": c.party_key or None, "interactions": list(c.interactions)}


# --- loading -------------------------------------------------------------------------------------------------
def registry_file(settings) -> str:
    """Which file: ``MOCKPROVIDER_PRACTICES``; else ``practices.toml`` in the personas folder; else the
    built-in one (a team's own personas folder without a registry gets the built-in practices)."""
    if settings.practices:
        return settings.practices
    beside = os.path.join(settings.personas, FILE)
    return beside if os.path.isfile(beside) else BUILT_IN


def load(settings) -> Registry:
    """The registry the settings name, with the default practice's ODS / ASID from the settings
    when they were changed; raises RegistryError (one line)."""
    path = registry_file(settings)
    registry = parse_file(path)
    return apply_settings(registry, settings)


@lru_cache(maxsize=8)
def for_settings(settings) -> Registry:
    """:func:`load`, remembered per settings (callers without a running app: tools, bench checks)."""
    return load(settings)


def parse_file(path: str) -> Registry:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise RegistryError(path, "", "file not found") from None
    except OSError as exc:
        raise RegistryError(path, "", f"cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(path, "", f"is not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise RegistryError(path, "", f"is not UTF-8 text: {exc.reason}") from None
    return parse(data, path)


def parse(data: dict, path: str = FILE) -> Registry:
    unknown = sorted(set(data) - {"practice", "consumer"})
    if unknown:
        raise RegistryError(path, unknown[0], "is not a known table (known: practice, consumer)")
    raw_practices = data.get("practice")
    if not isinstance(raw_practices, list) or not raw_practices:
        raise RegistryError(path, "practice", "at least one [[practice]] is required (the first is the default)")
    practices = [_practice(raw, f"practice[{i}]", path) for i, raw in enumerate(raw_practices)]
    raw_consumers = data.get("consumer", [])
    if not isinstance(raw_consumers, list):
        raise RegistryError(path, "consumer", "must be an array of tables ([[consumer]])")
    consumers = [_consumer(raw, f"consumer[{i}]", path) for i, raw in enumerate(raw_consumers)]
    _check_unique(practices, consumers, path)
    if not practices[0].served:
        raise RegistryError(path, "practice[0].quirks", "the first (default) practice must be on SDS and served")
    return Registry(practices, consumers, path)


def _table(raw, key: str, path: str, allowed: set) -> dict:
    if not isinstance(raw, dict):
        raise RegistryError(path, key, "must be a table")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise RegistryError(path, f"{key}.{unknown[0]}", f"is not a known key (known: {', '.join(sorted(allowed))})")
    return raw


def _text(raw: dict, key: str, name: str, path: str, pattern=None, required=True, default="", what="") -> str:
    value = raw.get(name, None)
    if value is None:
        if required:
            raise RegistryError(path, f"{key}.{name}", "is required")
        return default
    if not isinstance(value, str) or (required and not value.strip()):
        raise RegistryError(path, f"{key}.{name}", "must be non-empty text")
    if pattern is not None and value and not pattern.match(value):
        raise RegistryError(path, f"{key}.{name}", f"{value!r} is not {what or 'in the right format'}")
    return value


def _names(raw: dict, key: str, name: str, path: str, required=False) -> tuple | None:
    value = raw.get(name)
    if value is None:
        if required:
            raise RegistryError(path, f"{key}.{name}", "is required")
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RegistryError(path, f"{key}.{name}", "must be an array of interaction names")
    for i, item in enumerate(value):
        if item not in SERVICES:
            raise RegistryError(path, f"{key}.{name}[{i}]",
                                f"{item!r} is not an interaction (known: {', '.join(SERVICES)})")
    if len(set(value)) != len(value):
        raise RegistryError(path, f"{key}.{name}", "lists an interaction twice")
    return tuple(value)


def _root(value, where: str, path: str) -> str:
    if not isinstance(value, str) or not ROOT_RE.match(value):
        raise RegistryError(path, where, f"{value!r} is not a service root path such as gpconnect/fhir")
    return value


def _practice(raw, key: str, path: str) -> Practice:
    raw = _table(raw, key, path, PRACTICE_KEYS)
    ods = _text(raw, key, "ods", path, ODS_RE, what="an ODS code (3-10 capital letters and digits)")
    name = _text(raw, key, "name", path)
    asid = _text(raw, key, "asid", path, ASID_RE, what="an ASID (digits)")
    party_key = _text(raw, key, "party_key", path, PARTY_KEY_RE, what="an MHS party key (<ODS>-<digits>)")
    mhs_id = _text(raw, key, "mhs_id", path, MHS_ID_RE, what="an MHS id (letters and digits)")
    supplier = _text(raw, key, "supplier", path)
    if supplier not in SUPPLIERS:
        raise RegistryError(path, f"{key}.supplier", f"{supplier!r} must be one of {', '.join(SUPPLIERS)}")
    manufacturer = _text(raw, key, "manufacturer", path, ODS_RE, what="an ODS code")
    host = _text(raw, key, "host", path, HOST_RE, required=False, what="a host name (optionally :port)")
    listed = _names(raw, key, "interactions", path)
    structured = _root(raw.get("structured_root", "gpconnect/structured/fhir"), f"{key}.structured_root", path)
    documents = _root(raw.get("documents_root", "gpconnect/documents/fhir"), f"{key}.documents_root", path)
    overrides = raw.get("roots", {})
    if not isinstance(overrides, dict):
        raise RegistryError(path, f"{key}.roots", "must be a table of interaction = root")
    for name, value in overrides.items():
        if name not in SERVICES:
            raise RegistryError(path, f"{key}.roots.{name}", f"{name!r} is not an interaction "
                                                             f"(known: {', '.join(SERVICES)})")
        _root(value, f"{key}.roots.{name}", path)
        if listed is not None and name not in listed:
            raise RegistryError(path, f"{key}.roots.{name}", "is not one of the practice's interactions")
    offered = listed if listed is not None else tuple(SERVICES)
    roots = {name: overrides.get(name, structured if SERVICES[name][1] == "structured" else documents)
             for name in offered}
    aliases = raw.get("aliases", False)
    if not isinstance(aliases, bool):
        raise RegistryError(path, f"{key}.aliases", "must be true or false")
    quirks = raw.get("quirks", [])
    if not isinstance(quirks, list) or not all(isinstance(q, str) for q in quirks):
        raise RegistryError(path, f"{key}.quirks", "must be an array of quirk names")
    for i, quirk in enumerate(quirks):
        if quirk not in QUIRKS:
            raise RegistryError(path, f"{key}.quirks[{i}]", f"{quirk!r} is not a quirk (known: {', '.join(QUIRKS)})")
    if not party_key.startswith(ods + "-"):
        raise RegistryError(path, f"{key}.party_key", f"{party_key!r} must start with the practice's ODS code ({ods}-)")
    return Practice(ods, name, asid, party_key, mhs_id, supplier, manufacturer, host, offered, roots, aliases,
                    frozenset(quirks), all_interactions=listed is None)


def _consumer(raw, key: str, path: str) -> Consumer:
    raw = _table(raw, key, path, CONSUMER_KEYS)
    ods = _text(raw, key, "ods", path, ODS_RE, what="an ODS code (3-10 capital letters and digits)")
    name = _text(raw, key, "name", path)
    asid = _text(raw, key, "asid", path, ASID_RE, what="an ASID (digits)")
    manufacturer = _text(raw, key, "manufacturer", path, ODS_RE, what="an ODS code")
    interactions = _names(raw, key, "interactions", path, required=True)
    party_key = _text(raw, key, "party_key", path, PARTY_KEY_RE, required=False,
                      what="an MHS party key (<ODS>-<digits>)")
    return Consumer(ods, name, asid, manufacturer, interactions, party_key)


def _check_unique(practices, consumers, path):
    seen_ods: dict[str, int] = {}
    seen_asid: dict[str, str] = {}
    for i, p in enumerate(practices):
        if p.ods in seen_ods:
            raise RegistryError(path, f"practice[{i}].ods", f"{p.ods} is already practice[{seen_ods[p.ods]}]")
        seen_ods[p.ods] = i
        if p.asid in seen_asid:
            raise RegistryError(path, f"practice[{i}].asid", f"{p.asid} is already the ASID of {seen_asid[p.asid]}")
        seen_asid[p.asid] = f"practice[{i}]"
    owners = {p.asid: p.ods for p in practices}
    for i, c in enumerate(consumers):
        owner = owners.get(c.asid)
        if owner is not None and owner != c.ods:
            raise RegistryError(path, f"consumer[{i}].asid", f"{c.asid} is the ASID of practice {owner}, "
                                                               f"not of {c.ods}")
        owners.setdefault(c.asid, c.ods)
        if owners[c.asid] != c.ods:
            raise RegistryError(path, f"consumer[{i}].asid", f"{c.asid} is already the ASID of {owners[c.asid]}")


def apply_settings(registry: Registry, settings) -> Registry:
    """The default practice takes ``ods_code`` / ``provider_asid`` when they differ from the
    built-in values (see the module docstring)."""
    default = registry.default
    ods = settings.ods_code if settings.ods_code != DEFAULT_ODS else default.ods
    asid = settings.provider_asid if settings.provider_asid != DEFAULT_ASID else default.asid
    if (ods, asid) == (default.ods, default.asid):
        return registry
    if not ODS_RE.match(ods):
        raise RegistryError(registry.file, "practice[0].ods", f"MOCKPROVIDER_ODS_CODE {ods!r} is not an ODS code "
                                                              "(3-10 capital letters and digits)")
    if not ASID_RE.match(asid):
        raise RegistryError(registry.file, "practice[0].asid", f"MOCKPROVIDER_PROVIDER_ASID {asid!r} is not an "
                                                               "ASID (digits)")
    for i, other in enumerate(registry.practices[1:], start=1):
        if other.ods == ods:
            raise RegistryError(registry.file, f"practice[{i}].ods",
                                f"MOCKPROVIDER_ODS_CODE {ods} names this practice, not the default (the first) "
                                "one; put it first in the registry instead")
        if other.asid == asid:
            raise RegistryError(registry.file, f"practice[{i}].asid",
                                f"MOCKPROVIDER_PROVIDER_ASID {asid} is this practice's ASID")
    party_key = default.party_key
    if ods != default.ods:
        party_key = f"{ods}-{default.party_key.rpartition('-')[2]}"
    renamed = replace(default, ods=ods, asid=asid, party_key=party_key)
    return Registry([renamed, *registry.practices[1:]], registry.consumers, registry.file)


# --- the personas against the registry ------------------------------------------------------------------
def persona_mistakes(registry: Registry, persona_data: dict, file: str, known_numbers=None) -> list:
    """A persona's mistakes that only the registry (and the rest of the cast) can see: its
    ``practice`` must be registered; ``pds.superseded_by`` must be a persona of the cast
    (``known_numbers``: the cast's NHS numbers, None = not checked)."""
    from ..personas.format import PersonaError
    found = []
    practice = persona_data.get("practice") if isinstance(persona_data, dict) else None
    if isinstance(practice, str) and registry.get(practice) is None:
        found.append(PersonaError(file, "$.practice", f"{practice!r} is not a practice of the registry "
                                                      f"{registry.file} (known: "
                                                      f"{', '.join(p.ods for p in registry.practices)})"))
    pds = persona_data.get("pds") if isinstance(persona_data, dict) else None
    target = pds.get("superseded_by") if isinstance(pds, dict) else None
    if known_numbers is not None and isinstance(target, str) and target not in known_numbers:
        found.append(PersonaError(file, "$.pds.superseded_by", f"{target} is not a persona of this cast "
                                                                "(the retained record must be one)"))
    return found


def check_store(registry: Registry, store) -> list:
    """Every persona of ``store`` checked against the registry (see :func:`persona_mistakes`)."""
    numbers = {p.nhs_number for p in store}
    found = []
    for persona in store:
        data = {"practice": persona.practice, "pds": {"superseded_by": persona.superseded_by}}
        found += persona_mistakes(registry, data, persona.file, numbers)
    return found
