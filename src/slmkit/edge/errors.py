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


class KeyExists(SlmError, FileExistsError):
    """`slm keys generate` would overwrite a key: bundles signed with it would stop
    verifying."""

    code = "key_exists"
