"""The ``mockprovider`` command: serve, and (added by later modules) personas, render, control."""
from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import click

from .config import Settings, SettingsError
from .control_client import control
from .http.access_log import plural


class OneLineErrors(click.Group):
    """The ``mockprovider`` group: a refused command prints one line, ``Error: <why>``, and exits
    non-zero (click's usage errors otherwise add a usage line and a hint; never a traceback)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as exc:
            click.echo(f"Error: {' '.join(exc.format_message().split())}", err=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=OneLineErrors)
@click.version_option(package_name="mockprovider")
def cli():
    """A mock GP Connect provider (FHIR STU3) for consumer development and CI."""


@cli.command()
@click.option("--host", envvar="MOCKPROVIDER_HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="MOCKPROVIDER_PORT", default=8080, type=int, show_default=True,
              help="1-65535, and free")
@click.option("--workers", envvar="MOCKPROVIDER_WORKERS", default=2, type=int, show_default=True,
              help="gunicorn worker processes (at least 1)")
@click.option("--threads", envvar="MOCKPROVIDER_THREADS", default=128, type=click.IntRange(1, 4096),
              show_default=True, help="request threads per worker (concurrent requests, e.g. slow downloads)")
@click.option("--personas", envvar="MOCKPROVIDER_PERSONAS", default=None,
              help="folder of persona JSON files [default: the built-in cast]")
@click.option("--allow-empty", envvar="MOCKPROVIDER_ALLOW_EMPTY", is_flag=True, default=None,
              help="serve even when the personas folder holds no persona (otherwise refused)")
@click.option("--certfile", envvar="MOCKPROVIDER_TLS_CERTFILE", default=None, help="TLS certificate (PEM)")
@click.option("--keyfile", envvar="MOCKPROVIDER_TLS_KEYFILE", default=None, help="TLS private key (PEM)")
@click.option("--ca-certs", envvar="MOCKPROVIDER_TLS_CA_CERTS", default=None,
              help="CA bundle; requires a client certificate (mutual TLS)")
@click.option("--log-format", envvar="MOCKPROVIDER_LOG_FORMAT", default=None, type=click.Choice(["text", "json"]),
              help="start-up and access lines on stdout [default: text]")
@click.option("--access-log/--no-access-log", envvar="MOCKPROVIDER_ACCESS_LOG", default=None,
              help="one stdout line a request [default: on]")
@click.option("--state-url", envvar="MOCKPROVIDER_STATE_URL", default=None, metavar="URL",
              help="redis://host:port/db: share flags, fault rules, journal and run-time personas with "
                   "other replicas [default: SQLite in a private folder]")
@click.option("--practices", envvar="MOCKPROVIDER_PRACTICES", default=None, metavar="FILE",
              help="practices registry (TOML, docs/lookups.md) [default: practices.toml in the personas "
                   "folder, else the built-in one]")
@click.option("--dev", is_flag=True, help="Flask's development server instead of gunicorn")
def serve(host, port, workers, threads, personas, allow_empty, certfile, keyfile, ca_certs, log_format, access_log, state_url,
          practices, dev):
    """Run the mock under gunicorn (or Flask's dev server with --dev).

    Refused with one line and exit status 1: no personas (unless --allow-empty), --workers below 1,
    a port out of range or in use, TLS files that are missing or unreadable."""
    overrides = dict(host=host, port=port, workers=workers, threads=threads, personas=personas,
                     allow_empty=allow_empty,
                     tls_certfile=certfile, tls_keyfile=keyfile, tls_ca_certs=ca_certs,
                     log_format=log_format, access_log=access_log, state_url=state_url, practices=practices)
    log_to_stderr(_log_format_wanted(log_format))   # so start-up warnings (e.g. an unprotected control API) show
    warn_unknown_variables()
    from . import preflight
    try:
        settings = Settings.from_env(**overrides)
        preflight.check_tls(settings)
        preflight.check_personas_folder(settings)
        from .app import create_app
        from .personas.store import PersonaError, PersonaStore
        try:
            app = create_app(overrides)
        except PersonaError as exc:
            # Every mistake of the folder, as `personas validate` and the control API list them.
            errors = PersonaStore.check(settings.personas)[1] or [exc]
            for error in errors:
                click.echo(f"error: {error}", err=True)
            raise click.ClickException(f"{plural(len(errors), 'mistake')} in the personas folder {settings.personas}: "
                                       "nothing served (mockprovider personas validate lists the same)")
        settings = app.extensions["mockprovider"].settings
        runtime = app.extensions["mockprovider"]
        if len(runtime.personas) == 0 and not settings.allow_empty:
            raise preflight.Refused(f"no personas in {settings.personas}; add persona files, or pass "
                                    "--allow-empty (MOCKPROVIDER_ALLOW_EMPTY=true) to start without any")
        preflight.check_port(settings)
    except (SettingsError, preflight.Refused) as exc:
        raise click.ClickException(str(exc))
    from .http import access_log as lines
    log_to_stderr(settings.log_format)
    describe = getattr(runtime.control, "describe", None)      # every ControlStore has it; be kind
    fields = lines.startup_fields(settings, len(runtime.personas), runtime.cast.folder_source,
                                  describe() if describe else type(runtime.control).__name__,
                                  "https" if settings.tls_certfile else "http",
                                  "flask-dev" if dev else "gunicorn")
    lines.emit(fields, settings.log_format, lines.startup_text(fields))
    if dev:
        # The mock writes one access line a request itself; werkzeug's own would be a second.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        ssl_context = (settings.tls_certfile, settings.tls_keyfile) if settings.tls_certfile else None
        app.run(host=settings.host, port=settings.port, threaded=True, ssl_context=ssl_context)
        return
    from .server import run_gunicorn
    run_gunicorn(app, settings)


# --- personas and render ------------------------------------------------------------------------------
# Thin commands over mockprovider.personas.store (load, validate, tags) and
# mockprovider.personas.generate (Faker personas, atomic write).

def _personas_dir(directory) -> str:
    if directory:
        return directory
    try:
        return Settings.from_env().personas
    except SettingsError as exc:
        raise click.ClickException(str(exc))


def _load_store(directory):
    from .personas.store import PersonaError, PersonaStore
    try:
        return PersonaStore.load(_personas_dir(directory))
    except PersonaError as exc:
        raise click.ClickException(f"persona error: {exc}")


def _find(store, number):
    persona = store.get(number)
    if persona is None:
        raise click.ClickException(f"no persona with NHS number {number} in {store.directory}")
    return persona


_personas_option = click.option(
    "--personas", "directory", envvar="MOCKPROVIDER_PERSONAS", default=None, metavar="DIR",
    help="folder of persona JSON files [env MOCKPROVIDER_PERSONAS; default: the built-in cast]")


@cli.group()
def personas():
    """List, show, validate and generate personas (one JSON file a patient)."""


@personas.command("list")
@_personas_option
@click.option("--json", "as_json", is_flag=True, help="an array of objects: nhs_number, name, "
              "registered_practice_ods, tags, file")
def personas_list(directory, as_json):
    """Every persona of the folder, one a line: NHS number, name and tags (derived from its data);
    --json adds the registered practice and the file."""
    store = _load_store(directory)
    rows = [p.summary() for p in store]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        click.echo(f"{row['nhs_number']}  {row['name']:<32}  {', '.join(row['tags'])}")


@personas.command("show")
@click.argument("nhs_number")
@_personas_option
def personas_show(nhs_number, directory):
    """One persona as JSON: its file, derived tags and data."""
    persona = _find(_load_store(directory), nhs_number)
    click.echo(json.dumps({"file": persona.file, "tags": persona.tags, "persona": persona.data},
                          indent=2, ensure_ascii=False))


@personas.command("validate")
@click.argument("directory", required=False, envvar="MOCKPROVIDER_PERSONAS", metavar="[DIR]")
@click.option("--render/--no-render", default=True, show_default=True,
              help="also render every persona's migrate Bundle (with and without sensitive items) "
                   "and validate it with fhir.resources (STU3)")
def personas_validate(directory, render):
    """Check every persona file; report every mistake (file, JSON path, reason). Exit 1 on any."""
    from .personas.store import PersonaStore
    directory = _personas_dir(directory)
    store, errors = PersonaStore.check(directory)
    problems = [str(e) for e in errors]
    from .registry import practices
    try:        # the personas against the practices registry this folder would be served with
        registry = practices.load(Settings.from_env(personas=directory))
        problems += [str(e) for e in practices.check_store(registry, store)]
    except SettingsError as exc:
        problems.append(str(exc))
    checked = "loaded"
    if render:
        from .fhir import preview
        if preview.available():
            problems += preview.validate_bundles(store)
            checked = "loaded and rendered"
        else:
            checked = "loaded (no structured renderer installed: Bundles not checked)"
    for line in problems:
        click.echo(f"error: {line}", err=True)
    click.echo(f"{plural(len(store), 'persona')} {checked}, {plural(len(problems), 'error')} ({directory})")
    if problems:
        sys.exit(1)


@personas.command("generate")
@click.option("--count", type=click.IntRange(min=1), required=True, help="how many personas (at least 1)")
@click.option("--seed", default="1", show_default=True, help="the same seed gives byte-identical files")
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="folder to write (created; replaced as a whole, atomically, with --force)")
@click.option("--tags", multiple=True, metavar="TAG[,TAG]",
              help="shape every persona, e.g. --tags sensitive,confidential-items")
@click.option("--style", type=click.Choice(["plain", "emis", "tpp"]), default="plain", show_default=True,
              help="plain: the mock's own record format; emis / tpp: a record in the shape EMIS Web / TPP "
                   "SystmOne send through GP Connect (made from the seed on first use)")
@click.option("--volume", type=click.Choice(["small", "typical", "heavy"]), default=None,
              help="how much record: small, typical (every clinical area; ~1,000 resources for a supplier "
                   "style) or heavy (decades: ~3,000 resources) [default: small for plain, typical otherwise]")
@click.option("--force", is_flag=True, help="replace the personas already in --out")
@click.option("--variants", multiple=True, metavar="all|NAME[,NAME]",
              help="also write one persona per group of clinical variants (all: lists, links, medications, "
                   "child; personas/README.md 'Clinical variants')")
def personas_generate(count, seed, out, tags, style, volume, force, variants):
    """Generate COUNT Faker (en_GB) personas with test NHS numbers into OUT."""
    from .personas import generate as gen
    wanted = [t.strip() for group in tags for t in group.split(",") if t.strip()]
    started = time.perf_counter()
    try:
        gen.check_style(style, volume, gen.check_tags(wanted))
        chosen = gen.check_variants(variants)
        gen.recover(Path(out))
        gen.check_target(Path(out), force)
        files = gen.generate(count, seed, wanted, style=style, volume=volume, variants=chosen)
        gen.write_atomically(out, files, force=force)
    except gen.GenerateError as exc:
        raise click.ClickException(str(exc))
    click.echo(f"wrote {plural(len(files), 'persona')} to {out} in {time.perf_counter() - started:.1f} s")


@personas.command("sha256")
@click.argument("size", type=click.IntRange(min=1))
@click.argument("seed")
def personas_sha256(size, seed):
    """The sha256 a generated document (generate: {size: SIZE, seed: SEED}) declares."""
    from .personas.documents import generated_sha256
    click.echo(generated_sha256(size, seed))


@personas.command("import")
@click.argument("bundle_file", metavar="BUNDLE.json", type=click.Path(dir_okay=False))
@click.option("--nhs-number", default=None, metavar="N",
              help="the persona's NHS number (the Patient's identifier is rewritten) [default: the Patient's]")
@click.option("--documents", "documents_dir", type=click.Path(file_okay=False, exists=True), default=None,
              metavar="DIR", help="the documents' bytes: files named after a DocumentReference id or its "
                                  "attachment title [default: generated to each declared size]")
@click.option("--out", "out_dir", default=None, metavar="DIR",
              help="personas folder to write <NHS number>.json into [env MOCKPROVIDER_PERSONAS; default: "
                   "the built-in cast]")
@click.option("--force", is_flag=True, help="replace a persona file of the same NHS number")
@click.option("--allow-invalid", is_flag=True,
              help="import content that is not FHIR STU3 anyway (a deliberately broken fixture)")
def personas_import(bundle_file, nhs_number, documents_dir, out_dir, force, allow_invalid):
    """Turn a GP Connect structured Bundle into a persona served as it came (docs/personas/import.md)."""
    from .personas.bundle_import import BundleImportError, import_bundle, write_imported
    from .personas.store import PersonaError, validate
    from .fhir.stu3_shape import not_stu3, refusal
    try:
        raw = Path(bundle_file).read_bytes()
    except OSError as exc:
        raise click.ClickException(f"{bundle_file}: cannot be read: {exc.strerror}")
    try:
        bundle = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{bundle_file}: $: is not JSON ({exc})")
    if not allow_invalid:
        problems = not_stu3(bundle)
        for path, reason in problems:
            click.echo(f"error: {bundle_file}: {path}: {reason}", err=True)
        if problems:
            raise click.ClickException(f"{bundle_file} {refusal(problems)}; --allow-invalid imports it anyway")
    try:
        persona = import_bundle(bundle, nhs_number=nhs_number,
                                documents_dir=Path(documents_dir) if documents_dir else None, source=bundle_file)
    except BundleImportError as exc:
        for line in exc.lines():
            click.echo(f"error: {line}", err=True)
        raise click.ClickException(f"{bundle_file} is not importable ({len(exc.problems)} "
                                   f"problem{'s' if len(exc.problems) > 1 else ''})")
    out = Path(_personas_dir(out_dir))
    target = out / f"{persona['nhs_number']}.json"
    # What the loader will say of it, before anything is written (documents still to be copied
    # are checked once copied).
    probe = dict(persona)
    probe["documents"] = [d for d in persona.get("documents", []) if "file" not in d]
    if not probe["documents"]:
        del probe["documents"]
    try:
        validate(probe, target, out)
    except PersonaError as exc:
        raise click.ClickException(f"imported persona is not valid: {exc}")
    try:
        written = write_imported(persona, out, documents_dir=documents_dir, force=force)
    except FileExistsError as exc:
        raise click.ClickException(str(exc))
    except OSError as exc:
        raise click.ClickException(f"nothing written: {exc}")
    resources = len(persona["fhir_record"]["entries"])
    docs = len(persona.get("documents", []))
    click.echo(f"wrote {written} ({resources} resources, {docs} document{'s' if docs != 1 else ''}, "
               f"{len(persona['fhir_record'].get('confidential', []))} marked confidential)")


@cli.command()
@click.argument("nhs_number")
@_personas_option
@click.option("--sensitive/--no-sensitive", default=True, show_default=True,
              help="includeSensitiveInformation: with or without confidential items")
@click.option("--trace-id", default=None, metavar="UUID",
              help="Bundle.id (a server uses the request's Ssp-TraceID) [default: a fixed UUID]")
def render(nhs_number, directory, sensitive, trace_id):
    """Print a persona's migrate structured Bundle, as a server would send it (no server)."""
    from .fhir import preview
    store = _load_store(directory)
    persona = _find(store, nhs_number)
    body = preview.migrate_bundle_bytes(store, persona, sensitive, trace_id or preview.FIXED_TRACE_ID)
    click.echo(body.decode("utf-8"))


# --- example: mockprovider.example ---------------------------------------------------------------------------
class _InteractionName(click.ParamType):
    """An interaction of mockprovider.example (dashes or underscores, or an alias such as ``migrate``)."""
    name = "interaction"

    def convert(self, value, param, ctx):
        from . import example
        try:
            return example.find(value)
        except example.ExampleError as exc:
            self.fail(str(exc), param, ctx)

    def get_metavar(self, param, *args, **kwargs):
        return "INTERACTION"


@cli.command("example", epilog="Interactions: migrate-structured (or migrate), migrate-document, retrieve-document, "
                               "find-patient, read-patient, search-documents, metadata-structured, "
                               "metadata-documents, metadata (--list says what each is).")
@click.argument("interaction", type=_InteractionName(), required=False)
@click.argument("subject", required=False, metavar="[NHS_NUMBER|BINARY_ID]")
@click.option("--list", "list_interactions", is_flag=True, help="list the interactions and what each takes")
@click.option("--url", envvar="MOCKPROVIDER_URL", default="http://127.0.0.1:8080", show_default=True,
              help="the mock (env MOCKPROVIDER_URL)")
@click.option("--sensitive/--no-sensitive", default=None,
              help="migrate: includeSensitiveInformation with conf/R (default: false, conf/N); migrate a "
                   "document: conf/R (the default) or no confidentiality scope")
@click.option("--document", "document_key", default=None, metavar="KEY",
              help="the persona's document to fetch (its key or Binary id) [default: the first the "
                   "interaction serves]")
@click.option("--single-root", is_flag=True, help="address the single root /{ODS}/STU3/1/gpconnect/fhir")
@click.option("--xml", is_flag=True, help="ask for FHIR XML (Accept: application/fhir+xml)")
@_personas_option
@click.option("--run", "run_it", is_flag=True,
              help="make the request: the status line and headers on stderr, the body on stdout; exit 1 "
                   "unless 2xx")
def example_command(interaction, subject, list_interactions, url, sensitive, document_key, single_root, xml,
                    directory, run_it):
    """Print a ready request (a curl command) for INTERACTION, with fresh Ssp-* headers and an
    unsigned JWT; or make it with --run.

    NHS_NUMBER defaults to 9690937286 (a full record with documents); migrate-document and
    retrieve-document take a Binary id, or an NHS number whose first document they serve. ODS code
    and provider ASID come from MOCKPROVIDER_ODS_CODE / MOCKPROVIDER_PROVIDER_ASID (the defaults
    otherwise), as the server reads them."""
    from . import example
    if list_interactions or interaction is None:
        from .http.routes import BY_NAME
        for entry in example.EXAMPLES:
            takes = {"nhs": "NHS_NUMBER", "document": "NHS_NUMBER|BINARY_ID", None: ""}[entry.argument]
            also = f" (or {', '.join(entry.aliases)})" if entry.aliases else ""
            click.echo(f"{example.command_name(entry.interaction) + also:<32} {takes:<22} {entry.summary}; "
                       f"{BY_NAME[entry.interaction].method} {BY_NAME[entry.interaction].ids[0]}")
        if interaction is None and not list_interactions:
            raise click.UsageError("name an interaction, e.g. `mockprovider example migrate 9690937286`")
        return
    try:
        settings = Settings.from_env()
        store = _load_store(directory) if interaction.argument is not None else None
        request = example.build(interaction, example.subject_for(interaction, subject, store, settings,
                                                                 document_key),
                                settings=settings, url=url, sensitive=sensitive, xml=xml, single_root=single_root)
    except (SettingsError, example.ExampleError) as exc:
        raise click.ClickException(str(exc))
    if not run_it:
        click.echo(request.curl())
        return
    try:
        status, reason, headers, body = example.send(request)
    except OSError as exc:
        raise click.ClickException(f"cannot reach the mock at {url}: {exc}")
    click.echo(f"HTTP {status} {reason}", err=True)
    for name, value in headers:
        click.echo(f"{name}: {value}", err=True)
    sys.stdout.buffer.write(body)
    sys.stdout.flush()
    if not 200 <= status < 300:
        sys.exit(1)


# --- control: mockprovider.control_client ------------------------------------------------------------------
cli.add_command(control)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record is emitted."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def warn_unknown_variables(environ=None) -> None:
    """One stderr warning for each ``MOCKPROVIDER_*`` variable no setting reads (a typo such as
    ``MOCKPROVIDER_CONTROLTOKEN`` would otherwise be ignored without a word)."""
    from .config import unknown_variables
    for name, nearest in unknown_variables(environ):
        hint = f" (did you mean {nearest}?)" if nearest else ""
        logging.getLogger("mockprovider").warning("%s is not a setting%s: ignored", name, hint)


def _log_format_wanted(option) -> str:
    """The log format before the settings are read (so even a refusal's warnings match it)."""
    import os
    wanted = option or os.environ.get("MOCKPROVIDER_LOG_FORMAT", "text")
    return "json" if str(wanted).strip().lower() == "json" else "text"


def log_to_stderr(log_format: str = "text") -> None:
    """The mockprovider logger's warnings and errors on stderr, as text or (``json``) one JSON
    object a line, like the access lines."""
    from .http.access_log import JsonFormatter
    logger = logging.getLogger("mockprovider")
    handler = next((h for h in logger.handlers if isinstance(h, _StderrHandler)), None)
    if handler is None:
        handler = _StderrHandler()
        logger.addHandler(handler)
    handler.setFormatter(JsonFormatter() if log_format == "json" else
                         logging.Formatter("[%(asctime)s] [mockprovider] [%(levelname)s] %(message)s"))


def main():  # pragma: no cover - console entry point convenience
    sys.exit(cli())
