"""Defences against a web page using the visitor's browser to reach this server.

A server on 127.0.0.1 without a key is reachable by every page the user opens: a page
may send "simple" cross-origin POSTs (``text/plain``, form types, no preflight) and, with
DNS rebinding (a name that resolves to 127.0.0.1 after the page loads), even read the
answers. Three checks close this, as Jupyter, Ollama and llama-server-style proxies do:

- **Host** (DNS rebinding): the ``Host`` header must name this server. Bound on loopback,
  that is ``localhost`` (and ``*.localhost``), a loopback address, or a name given with
  ``--allowed-host``; bound elsewhere (an API key is then required) any host is accepted
  unless ``--allowed-host`` names the ones to accept. ``*`` accepts any. Refused: 403.
- **Origin** (CSRF): a request that changes state and carries an ``Origin`` header (every
  browser sends one on a POST) must come from this server's own origin or one allowed with
  ``--cors-origin``. Refused: 403.
- **Content-Type**: a POST body must be ``application/json`` — a type a page can only send
  cross-origin after a CORS preflight this server refuses. Clients that send no
  Content-Type at all are accepted when they are not browsers (no ``Origin``). Else: 415.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from urllib.parse import urlsplit

from slmkit.serve.auth import is_loopback
from slmkit.serve.errors import HttpError, send_error

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
JSON_TYPES = frozenset({"application/json"})


def host_name(value: str) -> str:
    """``Host`` header → the lower-case name without port or trailing dot
    (``[::1]:8000`` → ``::1``, ``Example.COM.:80`` → ``example.com``)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def _is_local_name(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class HostPolicy:
    """Which ``Host`` headers this server answers (see the module docstring)."""

    def __init__(self, bind_host: str, allowed: Sequence[str] = ()) -> None:
        self.loopback = is_loopback(bind_host)
        self.any = "*" in allowed or (not self.loopback and not allowed)
        self.names = {host_name(h) for h in allowed if h != "*"}
        if not self.loopback and bind_host not in ("0.0.0.0", "::", ""):
            self.names.add(host_name(bind_host))

    def allows(self, host: str | None) -> bool:
        if self.any or host is None:  # HTTP/1.0 without Host: not a browser
            return True
        name = host_name(host)
        return name in self.names or (self.loopback and _is_local_name(name))


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


class BrowserGuardMiddleware:
    """Pure ASGI: the Host, Origin and Content-Type checks, before auth and routes."""

    def __init__(self, app, hosts: HostPolicy, cors_origins: Sequence[str] = ()) -> None:
        self.app, self.hosts = app, hosts
        self.any_origin = "*" in cors_origins
        self.origins = {o.rstrip("/").lower() for o in cors_origins}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
        else:
            await send_error(send, scope["path"], refusal)

    def refusal(self, scope) -> HttpError | None:
        """The error for a request these checks refuse, or ``None``."""
        headers = scope["headers"]
        host = _header(headers, b"host")
        if not self.hosts.allows(host):
            return HttpError(
                403, "host_not_allowed", f"this server does not answer for host {host!r}",
                "use http://127.0.0.1:PORT or http://localhost:PORT, or start the server with "
                "--allowed-host NAME for the name you use to reach it")
        if scope["method"] in SAFE_METHODS:
            return None
        origin = _header(headers, b"origin")
        if origin is not None and not self._origin_ok(origin, host):
            return HttpError(
                403, "origin_not_allowed", f"cross-origin requests from {origin!r} are refused",
                "start the server with --cors-origin ORIGIN to let that web page use it")
        ctype = _header(headers, b"content-type")
        if ctype is None and origin is None:
            return None
        media = (ctype or "").split(";", 1)[0].strip().lower()
        if media not in JSON_TYPES:
            return HttpError(
                415, "unsupported_media_type",
                f"request bodies must be JSON sent as Content-Type: application/json, "
                f"got {ctype or 'none'}",
                "add -H 'Content-Type: application/json' (curl -d sends a form type)")
        return None

    def _origin_ok(self, origin: str, host: str | None) -> bool:
        origin = origin.strip().rstrip("/").lower()
        if self.any_origin or origin in self.origins:
            return True
        parts = urlsplit(origin)
        return (host is not None and parts.scheme in ("http", "https")
                and parts.netloc == host.strip().lower())
