"""What the AWS engines (``bedrock``, ``sagemaker``) share: a boto3 client built from the
standard AWS credential chain, clear errors, and retries of throttling with exponential
backoff and jitter.

Credentials are never read, held, logged or put into a message here: boto3 finds them
itself (environment, ``~/.aws``, SSO, container or instance role). botocore's own retries
are switched off so that every retry is ours, counted and bounded. boto3 is imported
lazily (the ``aws`` extra).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from slmkit.core.errors import SlmError

T = TypeVar("T")

# Error codes (ClientError's Error.Code, or an event stream's :exception-type) that mean
# "too busy now, the same request may succeed later".
RETRYABLE_CODES = frozenset({
    "ThrottlingException", "throttlingException", "TooManyRequestsException",
    "ServiceUnavailableException", "serviceUnavailableException", "ServiceUnavailable",
    "ModelNotReadyException", "InternalServerException", "internalServerException",
    "InternalFailure", "RequestLimitExceeded", "SlowDown"})
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
INSTALL_HINT = "pip install 'slmkit[aws]' (boto3)"


class AwsError(SlmError):
    """An AWS service refused or failed a request (served as HTTP 502, like any upstream)."""

    code = "upstream_error"

    def __init__(self, message: str, *, aws_code: str = "", status: int | None = None,
                 retryable: bool = False, hint: str | None = None) -> None:
        self.aws_code, self.status, self.retryable = aws_code, status, retryable
        super().__init__(message, hint=hint)


@dataclass(frozen=True)
class AwsRetry:
    """``max_retries`` extra attempts after a throttled or unavailable answer, waiting
    ``backoff × 2ⁿ`` (at most ``max_backoff``) with jitter: a random wait between half and
    all of it, so that many clients throttled together do not retry together."""

    max_retries: int = 4
    backoff: float = 0.5
    max_backoff: float = 10.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry ``attempt + 1`` (attempt 0 is the first retry)."""
        ceiling = min(self.backoff * 2 ** attempt, self.max_backoff)
        return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def boto3_module():
    """``boto3``, or a clear error naming the extra to install."""
    try:
        import boto3
    except ImportError:
        raise SlmError("the AWS engines need boto3", hint=INSTALL_HINT) from None
    return boto3


def make_client(service: str, *, region: str | None = None, profile: str | None = None,
                endpoint_url: str | None = None, session: Any = None, timeout: float = 60.0,
                connect_timeout: float = 5.0, max_pool: int = 16) -> Any:
    """A boto3 client for ``service`` with credentials from the standard AWS chain (or
    ``session``, a ``boto3.Session``), botocore's retries off (ours count), and the
    region from ``region`` > settings ``aws.region`` > the AWS chain."""
    boto3 = boto3_module()
    from botocore.config import Config
    from botocore.exceptions import NoRegionError, ProfileNotFound

    from slmkit.settings import get_settings

    settings = get_settings()
    region = region or settings.aws_region
    config = Config(retries={"total_max_attempts": 1, "mode": "standard"},
                    read_timeout=timeout, connect_timeout=connect_timeout,
                    max_pool_connections=max_pool, user_agent_extra="slmkit")
    try:
        if session is None:
            session = boto3.Session(profile_name=profile or settings.aws_profile or None)
        return session.client(service, region_name=region, endpoint_url=endpoint_url,
                              config=config)
    except NoRegionError:
        raise AwsError(f"no AWS region for {service}",
                       hint="pass --region, or set AWS_REGION or aws.region in "
                            "$SLM_HOME/config.toml") from None
    except ProfileNotFound as err:
        raise AwsError(f"AWS profile not found: {err.kwargs.get('profile', '?')}",
                       hint="check `aws configure list-profiles`, or unset the profile "
                            "setting") from None


def translate(err: BaseException, what: str) -> AwsError | None:
    """A clear :class:`AwsError` for a boto3/botocore exception (None for other errors).
    Only the service's own code and message are kept: never the request or its
    signature."""
    from botocore import exceptions as bx

    if isinstance(err, bx.ClientError):
        info = err.response.get("Error", {}) or {}
        code = str(info.get("Code") or "")
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = str(info.get("Message") or "")[:300] or "(no message)"
        retryable = code in RETRYABLE_CODES or status in RETRYABLE_STATUS
        return AwsError(f"{what} failed: {code or status}: {message}", aws_code=code,
                        status=status, retryable=retryable, hint=_hint(code, status))
    if isinstance(err, (bx.NoCredentialsError, bx.PartialCredentialsError)):
        return AwsError(f"{what}: no AWS credentials found", aws_code="NoCredentials",
                        hint="configure them the usual AWS way: `aws configure`, "
                             "`aws sso login`, AWS_PROFILE, or an instance/container role")
    if isinstance(err, (bx.EndpointConnectionError, bx.ConnectTimeoutError)):
        return AwsError(f"{what}: cannot reach the AWS endpoint ({type(err).__name__})",
                        aws_code="Connection", retryable=True,
                        hint="check the network, the region and any --endpoint-url")
    if isinstance(err, bx.ReadTimeoutError):
        return AwsError(f"{what}: the AWS endpoint stopped answering (read timeout)",
                        aws_code="ReadTimeout", hint="raise --upstream-timeout, or retry")
    if isinstance(err, bx.BotoCoreError):
        return AwsError(f"{what} failed: {type(err).__name__}", aws_code=type(err).__name__)
    return None


def _hint(code: str, status: int | None) -> str:
    if code in RETRYABLE_CODES or status in RETRYABLE_STATUS:
        return ("AWS is throttling or busy; retry later, ask AWS for a higher quota, or "
                "answer locally")
    if code in ("AccessDeniedException", "UnrecognizedClientException",
                "ExpiredTokenException", "InvalidSignatureException"):
        return ("check the AWS credentials (aws sts get-caller-identity) and the IAM "
                "permission for this call; Bedrock models also need model access granted")
    if code in ("ValidationException", "ResourceNotFoundException", "ValidationError"):
        return ("check the model id or endpoint name and the region (aws bedrock "
                "list-foundation-models / aws sagemaker list-endpoints)")
    return "see AWS's message above"


def with_retry(call: Callable[[], T], *, what: str, policy: AwsRetry,
               on_retry: Callable[[AwsError, float], None] | None = None,
               deadline: float | None = None,
               sleep: Callable[[float], None] = time.sleep) -> T:
    """Run ``call``; retry it on throttling/unavailability per ``policy``, then raise a
    clear :class:`AwsError` (how many attempts were made is in the message)."""
    for attempt in range(policy.max_retries + 1):
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - translated below, or re-raised as is
            err = translate(exc, what)
            if err is None:
                raise
            if not err.retryable:
                raise err from None
            wait = policy.delay(attempt)
            late = deadline is not None and time.perf_counter() + wait >= deadline
            if attempt == policy.max_retries or late:
                raise AwsError(f"{err.message} (gave up after {attempt + 1} attempts)",
                               aws_code=err.aws_code, status=err.status, retryable=True,
                               hint=err.hint) from None
            if on_retry is not None:
                on_retry(err, wait)
            sleep(wait)
    raise AssertionError("unreachable")
