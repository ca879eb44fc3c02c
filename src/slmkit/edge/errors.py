"""The edge package's errors: each says what was refused and what to do."""

from __future__ import annotations

from slmkit.core.errors import SlmError


class BundleError(SlmError):
    """A bundle that cannot be trusted or used: bad signature, wrong digest, odd layout."""

    code = "bundle_invalid"


class UpdateRefused(SlmError):
    """An update the agent will not install (expired index, downgrade, too big, …); the
    current version keeps serving."""

    code = "update_refused"
