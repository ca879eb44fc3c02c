"""Sending one request to the upstream: timeouts, and retries only where a retry is safe
and useful — statuses 429/502/503/504 (after ``Retry-After`` when given) and connection
failures before any response byte arrived. Everything else fails at once, clearly."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from slmkit.core.errors import ContextOverflowError, SlmError
from slmkit.runtime.remote.protocol import context_numbers

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
# failures of the connection itself, before a response: the request did not get through
CONNECTION_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError,
                     httpx.ReadError, httpx.WriteError, httpx.PoolTimeout)


class UpstreamError(SlmError):
    """The upstream model server failed, refused, or could not be reached."""

    code = "upstream_error"

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False,
                 retry_after: float | None = None, hint: str | None = None) -> None:
        self.status, self.retryable, self.retry_after = status, retryable, retry_after
        super().__init__(message, hint=hint or _hint(status))


def _hint(status: int | None) -> str:
    if status in (401, 403):
        return "check the API key (--api-key-file, or the environment variable it names)"
    if status == 404:
        return "check the upstream URL and the model name (GET /v1/models lists them)"
    if status in RETRYABLE_STATUS:
        return "the upstream is overloaded or down; retry later, or answer locally"
    if status is None:
        return "check that the upstream is running and reachable from here"
    return "see the upstream's message above"


@dataclass(frozen=True)
class RetryPolicy:
    """``max_retries`` extra attempts, waiting ``backoff × 2ⁿ`` (≤ ``max_backoff``) or the
    upstream's ``Retry-After`` — unless that asks for more than ``max_retry_after``."""

    max_retries: int = 2
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 30.0

    def delay(self, attempt: int) -> float:
        return min(self.backoff * 2 ** attempt, self.max_backoff)


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def error_from_response(status: int, content: bytes, headers: httpx.Headers,
                        where: str) -> SlmError:
    """A clear error from an upstream error response (its message, never our headers)."""
    message = _message(content)
    if status == 400 and "context" in message.lower():
        numbers = context_numbers(message)
        if numbers:
            return ContextOverflowError(*numbers)
    retry_after = retry_after_seconds(headers.get("retry-after"))
    return UpstreamError(f"upstream {where} answered HTTP {status}: {message}", status=status,
                         retryable=status in RETRYABLE_STATUS, retry_after=retry_after)


def _message(content: bytes) -> str:
    try:
        data = json.loads(content)
    except ValueError:
        return content[:300].decode("utf-8", "replace").strip() or "(empty body)"
    err = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(err, dict):
        return str(err.get("message") or err.get("detail") or err)[:300]
    return str(err)[:300]


def open_stream(client: httpx.Client, url: str, body: dict, *, headers: dict[str, str],
                timeout: httpx.Timeout, policy: RetryPolicy, where: str,
                deadline: float | None = None,
                sleep: Callable[[float], None] = time.sleep) -> httpx.Response:
    """POST ``body`` and return the streaming response once its status is OK (2xx).

    Retries per ``policy``; raises :class:`UpstreamError` (or ``ContextOverflowError``)
    when the upstream refuses, fails, or does not answer within the timeouts."""
    for attempt in range(policy.max_retries + 1):
        try:
            response = client.send(client.build_request("POST", url, json=body, headers=headers,
                                                        timeout=timeout), stream=True)
        except CONNECTION_ERRORS as exc:
            err: SlmError = UpstreamError(f"cannot reach the upstream {where}: "
                                          f"{type(exc).__name__}", retryable=True)
            wait = policy.delay(attempt)
        except httpx.TimeoutException:
            raise UpstreamError(f"the upstream {where} did not answer within "
                                f"{timeout.read:g} s", hint="raise --timeout, or answer "
                                "locally") from None
        else:
            if response.status_code < 400:
                return response
            content = response.read()
            response.close()
            err = error_from_response(response.status_code, content, response.headers, where)
            if not (isinstance(err, UpstreamError) and err.retryable):
                raise err
            wait = err.retry_after if err.retry_after is not None else policy.delay(attempt)
            if wait > policy.max_retry_after:
                raise err
        out_of_time = deadline is not None and time.perf_counter() + wait >= deadline
        if attempt == policy.max_retries or out_of_time:
            raise err
        sleep(wait)
    raise AssertionError("unreachable")
