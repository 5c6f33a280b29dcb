"""``mockprovider control …``: the control API from the command line, over HTTP.

Talks to a running mock at ``--url`` (env MOCKPROVIDER_URL, default http://127.0.0.1:8080) with
``--token`` (env MOCKPROVIDER_CONTROL_TOKEN). Standard library only (urllib); prints JSON.
:class:`ControlClient` is usable on its own (the live tests use it).
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request

import click


class ControlError(Exception):
    """The control API answered with an error, or could not be reached."""

    def __init__(self, message: str, status: int | None = None, body=None):
        super().__init__(message)
        self.status = status
        self.body = body


class ControlClient:
    def __init__(self, url: str = "http://127.0.0.1:8080", token: str | None = None, timeout: float = 30):
        self.url = url.rstrip("/")
        self.token = token or None
        self.timeout = timeout

    def call(self, method: str, path: str, payload=None, *, data: bytes | None = None,
             content_type: str = "application/json"):
        """Any control call: ``call("GET", "/catalogue")``; the answer's JSON, or ControlError."""
        if data is None and payload is not None:
            data = json.dumps(payload).encode()
        request = urllib.request.Request(self.url + "/_control" + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", content_type)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                body = json.loads(raw)
                message = body.get("error") or raw.decode(errors="replace")
            except (ValueError, AttributeError):
                body, message = None, raw.decode(errors="replace")[:300]
            raise ControlError(f"{method} /_control{path}: HTTP {exc.code}: {message}", exc.code, body) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ControlError(f"cannot reach the mock at {self.url}: {reason}") from None

    # one method a call of the API
    def health(self):
        """Whether the mock answers: status, store, persona count, ODS code (never needs the token)."""
        return self.call("GET", "/health")

    def state(self):
        """Everything in one document: flags, start-up defaults, fault rules, journal, personas."""
        return self.call("GET", "/state")

    def flags(self, changes: dict | None = None):
        """The live run-time flags; with ``changes`` (``{"validation": "lenient"}``), change those first."""
        return self.call("PATCH", "/flags", changes) if changes else self.call("GET", "/flags")

    def add_fault(self, rule: dict):
        """Add a fault rule (``{"kind": "error", "status": 503, "times": 1}``); the rule with its ``id``."""
        return self.call("POST", "/faults", rule)

    def faults(self):
        """The fault rules, oldest first, with their ``remaining`` uses."""
        return self.call("GET", "/faults")

    def delete_fault(self, rule_id: str):
        """Delete one fault rule by id."""
        return self.call("DELETE", f"/faults/{rule_id}")

    def clear_faults(self):
        """Delete every fault rule."""
        return self.call("DELETE", "/faults")

    def reset(self):
        """Back to start-up: flags as configured, no fault rules, the start-up cast, an empty journal."""
        return self.call("POST", "/reset")

    def requests(self, limit: int | None = None):
        """The request journal, newest first (at most ``limit`` rows)."""
        return self.call("GET", "/requests" + (f"?limit={limit}" if limit is not None else ""))

    def clear_requests(self):
        """Empty the request journal."""
        return self.call("DELETE", "/requests")

    # run-time personas
    def personas(self):
        """Every persona served now: NHS number, name, tags, description, source, file."""
        return self.call("GET", "/personas")

    def persona(self, nhs_number: str):
        """One persona in full: what it exercises, the rules it reaches, PDS facts, its documents."""
        return self.call("GET", f"/personas/{nhs_number}")

    def put_persona(self, nhs_number: str, persona=None, *, data: bytes | None = None,
                    content_type: str = "application/json", allow_invalid: bool = False,
                    source: str | None = None):
        """Create or replace a persona for every worker: a persona dict (or its bytes); with
        ``content_type="application/fhir+json"`` a structured Bundle's bytes, imported as the persona
        (``allow_invalid``: even when it is not FHIR STU3; ``source``: what it was imported from, e.g.
        the file name)."""
        query = urllib.parse.urlencode({k: v for k, v in (("allow_invalid", "true" if allow_invalid else None),
                                                          ("source", source)) if v}, quote_via=urllib.parse.quote)
        return self.call("PUT", f"/personas/{nhs_number}" + (f"?{query}" if query else ""), persona, data=data,
                         content_type=content_type)

    def delete_persona(self, nhs_number: str):
        """Take a persona out (a built-in or folder one too, until reset)."""
        return self.call("DELETE", f"/personas/{nhs_number}")

    def reload_personas(self):
        """Read the personas folder again; run-time personas stay on top."""
        return self.call("POST", "/personas/reload")


def parse_flag_value(text: str):
    """``true``/``false``, whole numbers and JSON literals as themselves; anything else as text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


# --- the click commands ----------------------------------------------------------------------------------
def _client(ctx) -> ControlClient:
    return ctx.obj


def _run(ctx, method, *args):
    try:
        result = getattr(_client(ctx), method)(*args)
    except ControlError as exc:
        raise click.ClickException(str(exc))
    click.echo(json.dumps(result, indent=2))
    return result


@click.group()
@click.option("--url", envvar="MOCKPROVIDER_URL", default="http://127.0.0.1:8080", show_default=True,
              help="the running mock (env MOCKPROVIDER_URL)")
@click.option("--token", envvar="MOCKPROVIDER_CONTROL_TOKEN", default=None,
              help="control token (env MOCKPROVIDER_CONTROL_TOKEN)")
@click.pass_context
def control(ctx, url, token):
    """Change a running mock: flags, fault rules, reset, the request journal."""
    ctx.obj = ControlClient(url, token)


@control.command()
@click.pass_context
def state(ctx):
    """Everything: flags, fault rules, the journal."""
    _run(ctx, "state")


@control.command()
@click.option("--set", "assignments", multiple=True, metavar="NAME=VALUE",
              help="change a flag, e.g. --set structured_enabled=false --set validation=lenient")
@click.pass_context
def flags(ctx, assignments):
    """Show the run-time flags, or change some with --set."""
    changes = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--set")
        changes[name.strip()] = parse_flag_value(value.strip())
    _run(ctx, "flags", changes or None)


@control.group()
def fault():
    """Add or delete one fault rule."""


@fault.command("add")
@click.option("--kind", required=True,
              type=click.Choice(["error", "delay", "reset", "empty", "malformed", "truncated", "drip"]))
@click.option("--code", help="error: a Spine error code, e.g. NO_RECORD_FOUND")
@click.option("--status", type=int, help="error: 502, 503 or 504 (proxy-style body)")
@click.option("--diagnostics", help="error: the diagnostics text")
@click.option("--ms", type=int, help="wait this long first (required for delay; any kind)")
@click.option("--duration-ms", type=int, help="drip: spread the body over this long")
@click.option("--times", type=int, help="expire after this many uses")
@click.option("--interaction", help="match: migrate_structured, migrate_document, retrieve_document, …")
@click.option("--nhs-number", help="match: the patient's NHS number")
@click.option("--document-id", help="match: the Binary id")
@click.option("--from-asid", help="match: the consumer's ASID (Ssp-From)")
@click.pass_context
def fault_add(ctx, kind, code, status, diagnostics, ms, duration_ms, times, interaction, nhs_number,
              document_id, from_asid):
    """Add a fault rule; prints it with its id."""
    rule = {"kind": kind, "code": code, "status": status, "diagnostics": diagnostics, "ms": ms,
            "duration_ms": duration_ms, "times": times}
    match = {"interaction": interaction, "nhs_number": nhs_number, "document_id": document_id,
             "from_asid": from_asid}
    rule = {k: v for k, v in rule.items() if v is not None}
    match = {k: v for k, v in match.items() if v is not None}
    if match:
        rule["match"] = match
    _run(ctx, "add_fault", rule)


@fault.command("delete")
@click.argument("rule_id")
@click.pass_context
def fault_delete(ctx, rule_id):
    """Delete one fault rule by id."""
    _run(ctx, "delete_fault", rule_id)


@fault.command("clear")
@click.pass_context
def fault_clear(ctx):
    """Delete every fault rule."""
    _run(ctx, "clear_faults")


@control.command()
@click.pass_context
def faults(ctx):
    """List the fault rules (oldest first, with their remaining uses)."""
    _run(ctx, "faults")


@control.command()
@click.pass_context
def reset(ctx):
    """Back to start-up defaults: flags as configured, no fault rules, the start-up cast, an empty journal."""
    _run(ctx, "reset")


@control.group()
def persona():
    """Put, delete, list and reload personas on a running mock (every worker sees the change)."""


def _run_persona(ctx, method, *args, **kwargs):
    """Like _run, but a rejected persona prints every mistake (JSON path: reason), one a line."""
    try:
        result = getattr(_client(ctx), method)(*args, **kwargs)
    except ControlError as exc:
        errors = (exc.body or {}).get("errors") if isinstance(exc.body, dict) else None
        if errors:
            for row in errors:
                where = f"{row['file']}: " if row.get("file") else ""
                click.echo(f"error: {where}{row.get('path')}: {row.get('reason')}", err=True)
        raise click.ClickException(str(exc))
    click.echo(json.dumps(result, indent=2, ensure_ascii=False))
    return result


def _bundle_nhs_number(bundle) -> str | None:
    """The NHS number of a structured Bundle's Patient (identifier system .../nhs-number)."""
    for entry in bundle.get("entry") or []:
        resource = (entry or {}).get("resource") or {}
        if resource.get("resourceType") == "Patient":
            for identifier in resource.get("identifier") or []:
                if str(identifier.get("system", "")).endswith("/Id/nhs-number"):
                    return identifier.get("value")
    return None


@persona.command("put")
@click.argument("file", type=click.File("rb"))
@click.option("--nhs-number", default=None, help="[default: the file's nhs_number, or a Bundle's Patient]")
@click.option("--allow-invalid", is_flag=True, help="a Bundle that is not FHIR STU3 is imported anyway")
@click.pass_context
def persona_put(ctx, file, nhs_number, allow_invalid):
    """Create or replace the persona in FILE: a persona JSON file, or a GP Connect structured
    Bundle (resourceType Bundle), which the mock imports."""
    raw = file.read()
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise click.ClickException(f"{file.name} is not JSON: {exc}")
    is_bundle = isinstance(body, dict) and body.get("resourceType") == "Bundle"
    if nhs_number is None and isinstance(body, dict):
        nhs_number = _bundle_nhs_number(body) if is_bundle else body.get("nhs_number")
    if not isinstance(nhs_number, str) or not nhs_number:
        raise click.ClickException(f"{file.name} names no NHS number; give --nhs-number")
    _run_persona(ctx, "put_persona", nhs_number, data=raw,
                 content_type="application/fhir+json" if is_bundle else "application/json",
                 allow_invalid=allow_invalid, source=os.path.basename(file.name) if is_bundle else None)


@persona.command("delete")
@click.argument("nhs_number")
@click.pass_context
def persona_delete(ctx, nhs_number):
    """Delete a persona (a built-in or folder one too, until reset)."""
    _run_persona(ctx, "delete_persona", nhs_number)


@persona.command("list")
@click.option("--json", "as_json", is_flag=True, help="the API's JSON rows instead of a table")
@click.pass_context
def persona_list(ctx, as_json):
    """Every persona the mock serves now, with its source (built-in, folder, run-time)."""
    try:
        rows = _client(ctx).personas()
    except ControlError as exc:
        raise click.ClickException(str(exc))
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        click.echo(f"{row['nhs_number']}  {row['source']:<8}  {row['name']:<32}  {', '.join(row['tags'])}")


@persona.command("reload")
@click.pass_context
def persona_reload(ctx):
    """Re-read the personas folder (run-time personas stay on top)."""
    _run_persona(ctx, "reload_personas")


@control.command()
@click.option("--limit", type=click.IntRange(min=0), default=None, help="at most this many (newest first)")
@click.option("--clear", is_flag=True, help="empty the journal instead")
@click.pass_context
def requests(ctx, limit, clear):
    """The request journal, newest first."""
    if clear:
        _run(ctx, "clear_requests")
    else:
        _run(ctx, "requests", limit)
