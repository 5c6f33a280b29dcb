"""Running the app under gunicorn, in-process (the app is built once, before the workers fork).

Transport rules the mock keeps here (docs/reliability.md):
- TLS: TLS 1.2 at least (the spec's SSP link is mutual TLS 1.2); a client certificate signed by
  ``ca_certs`` is required when that bundle is given, otherwise the handshake fails.
- Concurrency: gunicorn's threaded worker (``gthread``), ``threads`` request threads per worker
  process, HTTP/1.1 keep-alive (``keepalive`` seconds) and pipelining. Chosen over the sync worker
  (one connection per process: two slow 100 MiB downloads held every worker, no keep-alive) and
  over gevent/eventlet (monkey-patching, a C extension, and a Binary stream is a loop of 1 MiB
  writes that a thread waits on with the GIL released anyway): a slow reader costs one idle
  thread, idle keep-alive connections cost nothing but a poller entry.
- Slow clients: every socket read or write waits at most ``client_timeout_seconds``; a client that
  sends nothing (or stops reading) is closed cleanly instead of holding a thread for ever (the
  worker's socket class keeps that timeout where gthread would make the socket fully blocking).
- Requests gunicorn itself rejects before the app sees them (malformed request line or header,
  header too large, bad chunking) are answered with a GPConnect OperationOutcome, 400 BAD_REQUEST
  (501 NOT_IMPLEMENTED for an unsupported Transfer-Encoding), not gunicorn's HTML page.
"""
from __future__ import annotations

import errno
import ipaddress
import logging
import select
import socket
import ssl

from gunicorn.app.base import BaseApplication
from gunicorn.http import errors as gerrors
from gunicorn.workers import gthread
from gunicorn import glogging, util

from .errors import SpineError
from .fhir.outcome import operation_outcome
from .fhir.render import to_json_bytes
from .http import access_log
from .http.security import HSTS

log = logging.getLogger("mockprovider")

# gunicorn parse errors that are the client's malformed request (answered 400 BAD_REQUEST). Proxy-
# protocol and configuration problems, and headers the *app* produced, keep gunicorn's own answer.
_NOT_CLIENT = (gerrors.ConfigurationProblem, gerrors.InvalidResponseHeader, gerrors.InvalidResponseHeaderName,
               gerrors.InvalidProxyLine, gerrors.ForbiddenProxyRequest,
               getattr(gerrors, "InvalidProxyHeader", gerrors.InvalidProxyLine))


def transport_error(exc) -> SpineError | None:
    """The Spine error for a request gunicorn rejected while parsing it, or None to leave it be."""
    if not isinstance(exc, gerrors.ParseException) or isinstance(exc, _NOT_CLIENT):
        return None
    if isinstance(exc, gerrors.UnsupportedTransferCoding):
        return SpineError("NOT_IMPLEMENTED", f"Transfer-Encoding not supported: {exc}")
    if isinstance(exc, gerrors.LimitRequestHeaders):
        what = f"Request headers over the limit: {exc}"
    elif isinstance(exc, gerrors.LimitRequestLine):
        what = "Request line (method and URL) over the limit of 8190 bytes"
    else:
        what = f"Malformed HTTP request: {type(exc).__name__}: {exc}"
    return SpineError("BAD_REQUEST", what[:500])


class _QuietTimeouts(logging.Filter):
    """A client closed for being too slow is routine: no traceback in the error log."""

    def filter(self, record):
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, TimeoutError)


class _TimedSocket(socket.socket):
    """A client socket whose "blocking" mode keeps the slow-client timeout.

    gthread switches a connection between non-blocking (waiting in the poller for a keep-alive
    request) and blocking (served by a thread) with ``setblocking``; ``setblocking(True)`` would
    clear the timeout, so here it sets it instead."""

    __slots__ = ()
    timeout_seconds: float | None = None

    def setblocking(self, flag):
        if flag:
            self.settimeout(self.timeout_seconds)
        else:
            super().setblocking(False)


class _TimedSSLSocket(ssl.SSLSocket):
    """The TLS twin of :class:`_TimedSocket` (the context's ``sslsocket_class``)."""

    def setblocking(self, flag):
        if flag:
            self.settimeout(_TimedSocket.timeout_seconds)
        else:
            super().setblocking(False)


class MockWorker(gthread.ThreadWorker):
    """gunicorn's threaded worker with a socket timeout and FHIR answers to unparseable requests."""

    def init_process(self):
        self.log.error_log.addFilter(_QuietTimeouts())
        _TimedSocket.timeout_seconds = self.cfg.mockprovider_client_timeout
        super().init_process()

    def run(self):
        """gthread's loop; when it ends (a graceful stop, after the grace period) every answer
        still going out is cut with the process: log it and journal it as incomplete."""
        try:
            super().run()
        finally:
            access_log.cut_all()

    def handle_quit(self, sig, frame):
        """SIGINT / SIGQUIT: gunicorn's quick stop exits at once; answers still going out are cut."""
        access_log.cut_all()
        super().handle_quit(sig, frame)

    def accept(self, listener):
        try:
            client, addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        timed = _TimedSocket(client.family, client.type, client.proto, fileno=client.detach())
        timed.setblocking(True)
        util.close_on_exec(timed)
        self.nr_conns += 1
        self.enqueue_req(gthread.TConn(self.cfg, timed, addr, listener.getsockname()))

    # How long a request thread waits on its kept-alive connection for the client's next request
    # before handing the connection back to the worker's poller (seconds).
    KEEPALIVE_LINGER = 0.05

    def handle(self, conn):
        """Serve a connection's requests on this thread while they keep coming.

        gthread hands every kept-alive connection back to the main thread's poller after each
        answer; the next request then costs a pipe wake-up, two poller changes and a thread-pool
        hand-off, with the GIL passing between threads at each step (py-spy: about half of a small
        request's time under load). A client that sends its next request at once (or pipelines)
        is served here instead; one that waits longer than KEEPALIVE_LINGER goes back to the poller
        as before, so idle connections never hold a thread."""
        result = super().handle(conn)
        while result is True and self.alive and self.KEEPALIVE_LINGER > 0:
            if not conn.parser.unreader.buf.getvalue():        # nothing pipelined: wait a little
                try:
                    ready, _, _ = select.select([conn.sock], [], [], self.KEEPALIVE_LINGER)
                except (OSError, ValueError):
                    return False
                if not ready:
                    break
            result = super().handle(conn)
        return result

    def handle_error(self, req, client, addr, exc):
        error = transport_error(exc)
        if error is None:
            return super().handle_error(req, client, addr, exc)
        self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        try:
            display = self.wsgi.extensions["mockprovider"].control.flags().get("error_display", "codesystem")
        except Exception:
            display = "codesystem"
        body = to_json_bytes(operation_outcome(error, display))
        head = [f"HTTP/1.1 {error.status} {'Bad Request' if error.status == 400 else 'Not Implemented'}",
                "Connection: close", "Content-Type: application/fhir+json;charset=utf-8",
                "Cache-Control: no-store", f"Content-Length: {len(body)}"]
        if self.cfg.is_ssl:
            head.append(f"Strict-Transport-Security: {HSTS}")
        try:
            util.write_nonblock(client, ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        except Exception:
            self.log.debug("Failed to send error message.")


def _post_worker_init(worker):
    """A worker is ready: let the control store set itself up in it (the Redis store subscribes
    to changes here, before the worker's first request)."""
    runtime = getattr(worker.wsgi, "extensions", {}).get("mockprovider")   # (any WSGI app may run here)
    start = getattr(getattr(runtime, "control", None), "start_worker", None)
    if start is not None:
        start()


def _tls_context(conf, default_factory):
    context = default_factory()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.sslsocket_class = _TimedSSLSocket
    return context


class _Gunicorn(BaseApplication):
    def __init__(self, app, options):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            if value is not None and key in self.cfg.settings:
                self.cfg.set(key, value)
        # Not a gunicorn setting: read by MockWorker.accept.
        self.cfg.mockprovider_client_timeout = self.options["client_timeout"]

    def load(self):
        return self.application


class JsonErrorLog(glogging.Logger):
    """gunicorn's error log (stderr) as one JSON object a line, for MOCKPROVIDER_LOG_FORMAT=json."""

    def setup(self, cfg):
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(access_log.JsonFormatter())


def gunicorn_options(settings) -> dict:
    options = {
        "bind": f"[{settings.host}]:{settings.port}" if ":" in settings.host else f"{settings.host}:{settings.port}",
        "workers": settings.workers,
        "worker_class": MockWorker,
        "preload_app": True,
        "timeout": 120,          # heartbeat of the worker's main loop (requests run in threads)
        "graceful_timeout": 10,
        "threads": settings.threads,
        "worker_connections": max(1000, 2 * settings.threads),
        "keepalive": 5,          # seconds an idle keep-alive connection stays open
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "limit_request_line": 8190,
        "limit_request_fields": 100,
        "limit_request_field_size": 16384,
        # gunicorn >= 25.1 opens a control socket under $HOME/.gunicorn by default; the mock has its
        # own control API, servers side by side would share that path, and the image's user has no
        # home. Older gunicorn has no such setting and load_config skips it.
        "control_socket_disable": True,
        "client_timeout": settings.client_timeout_seconds,
        "post_worker_init": _post_worker_init,
        # gunicorn itself honours X-Forwarded-Proto (wsgi.url_scheme) from these peers; by default
        # it trusts loopback. The mock trusts only MOCKPROVIDER_TRUSTED_PROXIES (none by default).
        "forwarded_allow_ips": forwarded_allow_ips(settings.trusted_proxies),
    }
    if settings.log_format == "json":
        options["logger_class"] = JsonErrorLog
    if settings.tls_certfile:
        options.update(certfile=settings.tls_certfile, keyfile=settings.tls_keyfile or None,
                       ssl_context=_tls_context)
        if settings.tls_ca_certs:
            options.update(ca_certs=settings.tls_ca_certs, cert_reqs=ssl.CERT_REQUIRED)
    return options


def forwarded_allow_ips(trusted_proxies: str) -> str:
    """gunicorn's ``forwarded_allow_ips`` from the mock's ``trusted_proxies`` (IPs or CIDRs, ``*``
    for any, empty for none), in the strict network form gunicorn accepts."""
    trusted = trusted_proxies.strip()
    if trusted == "*":
        return "*"
    return ",".join(str(ipaddress.ip_network(item.strip(), strict=False)) for item in trusted.split(",") if item.strip())


def run_gunicorn(app, settings) -> None:
    _Gunicorn(app, gunicorn_options(settings)).run()
