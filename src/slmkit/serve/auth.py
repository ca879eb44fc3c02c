"""Request guards: API keys (constant-time comparison) and a request body size limit.

Both are pure ASGI middleware, so they answer before any route code or body parsing runs.
Keys are accepted as ``Authorization: Bearer KEY`` (what OpenAI clients send) or
``X-API-Key: KEY``. The web UI's static files (``/``, ``/ui/…``) and ``/health`` and ``/ready`` stay open for load balancers and probes
(``/ready`` says only "ready" or not to a caller without a key; see ``app``).

:func:`check_exposure` is the start-up rule: a blank key is refused anywhere (it would
silently turn auth off), and off loopback a key is required and must be at least
``MIN_KEY_LENGTH`` printable characters.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable, Sequence


OPEN_PATHS = frozenset({"/health", "/ready", "/"})
OPEN_PREFIXES = ("/ui/",)  # the web UI's static files: no data; the page asks for the key
DRAIN_LIMIT = 64 * 1024 * 1024  # bodies up to this size are read before a 413
MIN_KEY_LENGTH = 16  # off loopback; a shorter key can be guessed or is a placeholder
KEY_HINT = ("pass --api-key KEY, --api-key-file FILE or set SLM_API_KEY to a random key, "
            "e.g. from `python -c \"import secrets; print(secrets.token_urlsafe(32))\"`")


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_key(key: str, where: str = "given") -> str:
    """``key`` without surrounding whitespace; ``ValueError`` for a blank key or one with
    spaces or control characters (it could not be sent in a header as given)."""
    if not isinstance(key, str) or not key.strip():
        raise ValueError(f"the API key {where} is blank: a blank key would turn "
                         f"authentication off; {KEY_HINT}")
    key = key.strip()
    if not all(33 <= ord(c) <= 126 for c in key):
        raise ValueError(f"the API key {where} must be printable ASCII without spaces (it "
                         "travels in the Authorization header)")
    return key


def collect_keys(given: Sequence[str] = (), key_file: str | None = None) -> list[str]:
    """The keys the server accepts: ``given`` (``--api-key``), then the lines of the key
    file (``key_file``, else the ``api_key_file`` setting; ``#`` lines are comments), then
    the ``api_key`` setting ($SLM_API_KEY, else config.toml). A blank key anywhere is
    refused, naming where it came from (it would turn authentication off)."""
    from slmkit.settings import get_settings

    settings = get_settings({"api_key_file": key_file})
    keys = [check_key(k, f"from --api-key #{i}") for i, k in enumerate(given, 1)]
    if path := settings.api_key_file:
        with open(path, encoding="utf-8") as f:
            lines = [line.strip() for line in f if line.strip() and not line.startswith("#")]
        if not lines and not keys:
            raise ValueError(f"{path} holds no API key")
        keys += [check_key(k, f"in {path}") for k in lines]
    if settings.api_key is not None:
        keys.append(check_key(settings.api_key,
                              "from $SLM_API_KEY (or serve.api_key in config.toml)"))
    return keys


def check_exposure(host: str, keys: Sequence[str]) -> list[str]:
    """Refuse (``ValueError``) a configuration that would expose the models: any blank key,
    no key off loopback, or a key shorter than ``MIN_KEY_LENGTH`` off loopback. Returns
    warnings to print (a short key on loopback)."""
    cleaned = [check_key(k) for k in keys]
    local = is_loopback(host)
    if not local and not cleaned:
        raise ValueError(
            f"refusing to bind {host} without an API key: anyone on the network could use "
            "the models. Pass --api-key KEY, --api-key-file FILE or set SLM_API_KEY "
            "(or bind 127.0.0.1)")
    short = [k for k in cleaned if len(k) < MIN_KEY_LENGTH]
    if short and not local:
        raise ValueError(
            f"refusing to bind {host} with an API key of {len(short[0])} characters: keys "
            f"must have at least {MIN_KEY_LENGTH} characters off loopback; {KEY_HINT}")
    return [f"an API key is shorter than {MIN_KEY_LENGTH} characters (accepted on loopback "
            "only)"] if short else []


class ApiKeys:
    """A set of accepted keys. Every key is compared, in constant time, on every check.
    A blank key is refused (``ValueError``), never silently dropped."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = [check_key(k).encode() for k in keys]

    def __bool__(self) -> bool:
        return bool(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def check(self, presented: str | None) -> bool:
        if presented is None:
            return False
        candidate = presented.strip().encode()
        ok = False
        for key in self._keys:  # no early exit: timing does not say which key matched
            ok |= hmac.compare_digest(candidate, key)
        return ok


def presented_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token:
                return token
        elif name == b"x-api-key":
            return value.decode("latin-1")
    return None


class AuthMiddleware:
    def __init__(self, app, keys: ApiKeys) -> None:
        self.app, self.keys = app, keys

    async def __call__(self, scope, receive, send) -> None:
        if (scope["type"] != "http" or not self.keys or scope["path"] in OPEN_PATHS
                or (scope["method"] == "GET" and scope["path"].startswith(OPEN_PREFIXES))
                or scope["method"] == "OPTIONS"):
            await self.app(scope, receive, send)
            return
        key = presented_key(scope["headers"])
        if self.keys.check(key):
            await self.app(scope, receive, send)
            return
        message = "missing API key" if key is None else "invalid API key"
        from slmkit.serve.errors import HttpError, send_error  # see _too_large

        await send_error(send, scope["path"], HttpError(
            401, "invalid_api_key", message,
            "send the key as 'Authorization: Bearer KEY' (or the X-API-Key header)",
            {"WWW-Authenticate": "Bearer"}))


class BodyLimitMiddleware:
    """413 for a body over ``max_bytes``: at once from ``Content-Length``, or while reading
    a chunked body (read here in full, up to the limit, then replayed to the app)."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        length = _content_length(scope["headers"])
        if length is not None:
            if length > self.max_bytes:
                if length <= DRAIN_LIMIT:  # read it first, so the client sees the answer
                    await _drain(receive)
                await self._too_large(scope, send, length)
                return
            await self.app(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._too_large(scope, send, None)
                return
            if not message.get("more_body", False):
                break
        replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay_receive():
            return replay.pop() if replay else await receive()

        await self.app(scope, replay_receive, send)

    async def _too_large(self, scope, send, length: int | None) -> None:
        size = f"{length:,} bytes" if length is not None else "more than that"
        # imported here: `slm serve` checks its keys (check_exposure) before the server's
        # modules (pydantic, ~0.12 s) import, and loads its first model meanwhile
        from slmkit.serve.errors import HttpError, send_error

        await send_error(send, scope["path"], HttpError(
            413, "request_too_large",
            f"request body is {size}; this server accepts at most {self.max_bytes:,} bytes",
            "send a shorter prompt, or start the server with a larger --max-body-bytes"))


async def _drain(receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
